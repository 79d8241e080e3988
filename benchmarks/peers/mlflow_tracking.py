"""MLflow's side of ``benchmarks/tracking.py``; runs inside the MLflow peer venv.

Usage (one mode per call; the last stdout line is a JSON object with the seconds):

    python mlflow_tracking.py inprocess DIR [--params 50 --metrics 20 --steps 500]
    python mlflow_tracking.py server URL    [--params 50 --metrics 20 --steps 500]
    python mlflow_tracking.py history DIR   [--points 100000]
    python mlflow_tracking.py search DIR    [--runs 10000]

MLflow is used at its defaults (synchronous logging, SQLite backend). Everything that is
not the measured workload -- creating the database schema, the experiment, seeding --
happens before the clock starts and is reported separately as ``setup_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Keep MLflow from phoning home or nagging; neither is part of what we measure.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def _best_of(n: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _sqlite_uri(directory: str) -> tuple[str, Path]:
    db = Path(directory).absolute() / "mlflow.db"
    return f"sqlite:///{db}", db


def logging_workload(tracking_uri: str, n_params: int, n_metrics: int, n_steps: int) -> dict[str, Any]:
    """50 log_param and 20 x 500 log_metric calls, one call per point, in one run."""
    t0 = time.perf_counter()
    mlflow.set_tracking_uri(tracking_uri)
    # Warm-up, excluded (Shipyard's side does the same): creates the schema (SQLite) or
    # opens the connection (server), creates the experiment and takes the first-call
    # costs of the run path with one empty run.
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        pass
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with mlflow.start_run() as run:
        for i in range(n_params):
            mlflow.log_param(f"p{i}", i)
        for step in range(n_steps):
            for m in range(n_metrics):
                mlflow.log_metric(f"m{m}", float(step), step=step)
    # Synchronous logging: every call has been committed by the time the block exits.
    seconds = time.perf_counter() - t0

    # Sanity check outside the clock, so a silently dropped point cannot flatter MLflow.
    client = MlflowClient()
    stored = len(client.get_metric_history(run.info.run_id, "m0"))
    if stored != n_steps:
        raise SystemExit(f"expected {n_steps} points of m0, MLflow stored {stored}")
    calls = n_params + n_metrics * n_steps
    return {"seconds": seconds, "setup_s": setup_s, "calls": calls, "calls_per_s": calls / seconds}


def history_workload(directory: str, points: int) -> dict[str, Any]:
    """Seed one metric of ``points`` steps with log_batch, then time get_metric_history."""
    uri, _ = _sqlite_uri(directory)
    t0 = time.perf_counter()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment("history")
    run_id = client.create_run(exp_id).info.run_id
    now = int(time.time() * 1000)
    chunk = 1000  # MLflow's log_batch limit on metrics per request
    for start in range(0, points, chunk):
        batch = [Metric("loss", 1.0 / (s + 1), now + s, s) for s in range(start, min(start + chunk, points))]
        client.log_batch(run_id, metrics=batch, synchronous=True)
    client.set_terminated(run_id)
    setup_s = time.perf_counter() - t0

    got = len(client.get_metric_history(run_id, "loss"))
    if got != points:
        raise SystemExit(f"expected {points} points, got {got}")
    seconds = _best_of(3, lambda: client.get_metric_history(run_id, "loss"))
    return {"seconds": seconds, "setup_s": setup_s, "points": points}


def _seed_search_runs(db: Path, exp_id: int, n_runs: int) -> None:
    """Bulk-insert runs straight into MLflow's tables: its API would take minutes.

    Columns follow MLflow 3.17's schema (``runs``, ``params``, ``tags``, ``metrics``,
    ``latest_metrics``); each run gets what ``create_run``/``log_metric`` would write:
    a finished run with a name tag, one ``auc`` metric (history and latest), one ``depth``.
    """
    rng = random.Random(42)
    now = int(time.time() * 1000)
    runs, params, tags, metrics, latest = [], [], [], [], []
    for i in range(n_runs):
        rid = uuid.uuid4().hex
        ts = now + i
        auc = rng.random()
        runs.append(
            (
                rid,
                f"run-{i}",
                "LOCAL",
                "bench",
                "",
                "bench",
                "FINISHED",
                ts,
                ts + 1,
                "",
                "active",
                f"{db.parent}/mlruns/{exp_id}/{rid}/artifacts",
                exp_id,
            )
        )
        params.append(("depth", str(rng.randint(1, 12)), rid))
        tags.append(("mlflow.runName", f"run-{i}", rid))
        tags.append(("mlflow.user", "bench", rid))
        metrics.append(("auc", auc, ts, rid, 0, 0))
        latest.append(("auc", auc, ts, 0, 0, rid))
    con = sqlite3.connect(db)
    with con:  # one transaction
        con.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
            " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,"
            " experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            runs,
        )
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
            metrics,
        )
        con.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?,?,?,?,?,?)",
            latest,
        )
    con.execute("ANALYZE")  # fair to MLflow: let SQLite's planner see the real sizes
    con.close()


def search_workload(directory: str, n_runs: int) -> dict[str, Any]:
    """Seed ``n_runs`` runs, then time a filtered, ordered search_runs (best of 5)."""
    uri, db = _sqlite_uri(directory)
    t0 = time.perf_counter()
    client = MlflowClient(tracking_uri=uri)  # creates the schema
    exp_id = client.create_experiment("search")
    _seed_search_runs(db, int(exp_id), n_runs)
    setup_s = time.perf_counter() - t0

    def search() -> list[Any]:
        return client.search_runs(
            [exp_id], "metrics.auc > 0.8", order_by=["metrics.auc DESC"], max_results=50
        )

    found = search()
    # Check the seeding is what MLflow itself would have written: right count, right order.
    aucs = [r.data.metrics["auc"] for r in found]
    if len(found) != 50 or aucs != sorted(aucs, reverse=True) or min(aucs) <= 0.8:
        raise SystemExit(f"unexpected search result: {len(found)} runs, aucs {aucs[:5]}...")
    if "depth" not in found[0].data.params:
        raise SystemExit("seeded params are not visible to MLflow")
    seconds = _best_of(5, search)
    return {"seconds": seconds, "setup_s": setup_s, "runs": n_runs, "returned": len(found)}


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["inprocess", "server", "history", "search"])
    parser.add_argument("target", help="a scratch directory, or the server URL for 'server'")
    parser.add_argument("--params", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args(argv)

    if args.mode == "inprocess":
        result = logging_workload(_sqlite_uri(args.target)[0], args.params, args.metrics, args.steps)
    elif args.mode == "server":
        result = logging_workload(args.target, args.params, args.metrics, args.steps)
    elif args.mode == "history":
        result = history_workload(args.target, args.points)
    else:
        result = search_workload(args.target, args.runs)
    return {"mode": args.mode, "mlflow": mlflow.__version__, **result}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])), flush=True)
