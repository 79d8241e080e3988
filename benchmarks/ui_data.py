"""The data of ``benchmarks/ui.py``: the same runs written into a Shipyard store and into
MLflow's SQLite store, generated once and cached under ``~/.cache/shipyard-bench``.

Every run has 5 params, 2 tags and ``metrics`` metrics; the first ``history_runs`` runs
carry each metric's whole ``steps``-step history, the others its last point only (see
``Sizes``). One more run, ``long-curve``, has a single metric ``loss`` of ``long_steps``
steps. Values come from a formula of (run, metric, step), so both stores hold the same
numbers without holding them in memory at once.

Shipyard's side is written with the store's batch API (``TrackingStore.record_runs``,
whole runs per transaction; the long curve as consecutive records of one run). MLflow's
schema is created by MLflow itself (``MlflowClient.create_experiment`` in the peer venv);
its rows are then inserted straight into its tables in large transactions, as
``benchmarks/peers/mlflow_tracking.py`` seeds it: MLflow's ``log_batch`` takes at most
1,000 metrics a call through its ORM and would need hours for this volume.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CACHE = Path.home() / ".cache" / "shipyard-bench"
T0 = 1_700_000_000_000
LONG_NAME = "long-curve"
CHUNK_RUNS = 25  # runs per record_runs call / per MLflow transaction part


@dataclass(frozen=True)
class Sizes:
    runs: int = 10_000
    metrics: int = 20
    steps: int = 1_000
    long_steps: int = 1_000_000
    history_runs: int | None = None  # None: every run carries its whole history

    @property
    def with_history(self) -> int:
        return self.runs if self.history_runs is None else min(self.runs, self.history_runs)

    @property
    def points(self) -> int:
        full = self.with_history * self.metrics * self.steps
        return full + (self.runs - self.with_history) * self.metrics + self.long_steps

    def folder(self) -> Path:
        return CACHE / f"ui-v1-{self.runs}r-{self.metrics}m-{self.steps}s-{self.with_history}h-{self.long_steps}l"


def run_id(i: int) -> str:
    return uuid.UUID(int=(0x5EED << 96) + i).hex


def run_name(i: int) -> str:
    return f"run-{i:05d}"


def value(i: int, m: int, step: int) -> float:
    """A falling curve per (run, metric), with a little wobble."""
    return (1.0 + (i % 97) / 97 + m) / (1.0 + step / 50) + 0.01 * math.sin(step / 7 + i + m)


def params(i: int) -> dict[str, str]:
    return {"lr": str([0.1, 0.03, 0.01, 0.003][i % 4]), "depth": str(3 + i % 8), "optimizer": ["adam", "sgd"][i % 2],
            "batch_size": str([32, 64, 128][i % 3]), "dropout": str((i % 5) / 10)}


def points(i: int, sizes: Sizes) -> Iterator[tuple[str, float, int, int]]:
    """(key, value, timestamp, step) of run ``i``."""
    steps = range(sizes.steps) if i < sizes.with_history else [sizes.steps - 1]
    for m in range(sizes.metrics):
        for s in steps:
            yield f"m{m:02d}", value(i, m, s), T0 + i * 10_000 + s, s


def long_points(start: int, stop: int) -> Iterator[tuple[str, float, int, int]]:
    for s in range(start, stop):
        yield "loss", 1.0 / (1.0 + s / 1000) + 0.05 * math.sin(s / 500), T0 + s, s


# -- Shipyard ------------------------------------------------------------------------------

def build_shipyard(home: Path, sizes: Sizes, log: Any) -> dict[str, Any]:
    """Write the runs into a new Shipyard store at ``home``; return ids and the seconds it took."""
    from shipyard import Config
    from shipyard.client import Client
    from shipyard.tracking import Metric, RunRecord, RunStatus

    started = time.perf_counter()
    client = Client(Config(home=home))
    store = client.tracking.store
    experiment = store.create_experiment("ui-bench").id
    for first in range(0, sizes.runs, CHUNK_RUNS):
        records = [RunRecord(experiment, id=run_id(i), name=run_name(i), start_time=T0 + i * 10_000,
                             end_time=T0 + i * 10_000 + 9_000, user="bench", params=params(i),
                             tags={"team": "vision", "suite": "ui"},
                             metrics=[Metric(k, v, s, ts) for k, v, ts, s in points(i, sizes)])
                   for i in range(first, min(first + CHUNK_RUNS, sizes.runs))]
        store.record_runs(records)
        if first % 1000 == 0:
            log(f"shipyard: {first + len(records)}/{sizes.runs} runs")
    long_id = run_id(sizes.runs)
    chunk = 200_000
    for start in range(0, sizes.long_steps, chunk):
        stop = min(start + chunk, sizes.long_steps)
        status = RunStatus.FINISHED if stop == sizes.long_steps else RunStatus.RUNNING
        store.record_runs([RunRecord(experiment, id=long_id, name=LONG_NAME, status=status, start_time=T0,
                                     end_time=T0 + sizes.long_steps if status is RunStatus.FINISHED else None,
                                     user="bench",
                                     metrics=[Metric(k, v, s, ts) for k, v, ts, s in long_points(start, stop)])])
    client.close()
    return {"experiment": experiment, "long_run": long_id, "seconds": time.perf_counter() - started}


# -- MLflow --------------------------------------------------------------------------------

MLFLOW_CREATE = """
import json, os, sys
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
print(json.dumps({"experiment": client.create_experiment("ui-bench", artifact_location=sys.argv[2])}))
"""

MLFLOW_CHECK = """
import json, os, sys
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
run = client.get_run(sys.argv[2])
history = client.get_metric_history(sys.argv[2], "m00")
print(json.dumps({"name": run.info.run_name, "params": len(run.data.params), "metrics": len(run.data.metrics),
                  "history": len(history)}))
"""


def _mlflow_rows(i: int, sizes: Sizes, experiment: int, artifacts: str) -> tuple[list[Any], ...]:
    rid = run_id(i) if i < sizes.runs else run_id(sizes.runs)
    start = T0 + i * 10_000 if i < sizes.runs else T0
    name = run_name(i) if i < sizes.runs else LONG_NAME
    run = (rid, name, "LOCAL", "bench", "", "bench", "FINISHED", start, start + 9_000, "", "active",
           f"{artifacts}/{rid}/artifacts", experiment)
    tags = [("mlflow.runName", name, rid), ("mlflow.user", "bench", rid)]
    if i < sizes.runs:
        tags += [("team", "vision", rid), ("suite", "ui", rid)]
    found = list(points(i, sizes)) if i < sizes.runs else []
    metrics = [(k, v, ts, rid, s, 0) for k, v, ts, s in found]
    latest: dict[str, tuple[Any, ...]] = {}
    for k, v, ts, s in found:
        latest[k] = (k, v, ts, s, 0, rid)
    return ([run], [(k, v, rid) for k, v in (params(i) if i < sizes.runs else {}).items()], tags, metrics,
            list(latest.values()))


def build_mlflow(folder: Path, python: Path, sizes: Sizes, log: Any) -> dict[str, Any]:
    """Create MLflow's store in ``folder`` with MLflow, then insert the runs into its tables."""
    started = time.perf_counter()
    db = folder / "mlflow.db"
    uri = f"sqlite:///{db}"
    out = subprocess.run([str(python), "-c", MLFLOW_CREATE, uri, str(folder / "artifacts")],
                         capture_output=True, text=True, check=True)
    experiment = int(json.loads(out.stdout.strip().splitlines()[-1])["experiment"])
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")

    def write(rows: tuple[list[Any], ...]) -> None:
        runs, prms, tags, metrics, latest = rows
        with con:
            con.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
                            " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,"
                            " experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
            con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", prms)
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
            con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
                            " VALUES (?,?,?,?,?,?)", metrics)
            con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                            " VALUES (?,?,?,?,?,?)", latest)

    for first in range(0, sizes.runs, CHUNK_RUNS):
        parts = [_mlflow_rows(i, sizes, experiment, str(folder / "artifacts")) for i in
                 range(first, min(first + CHUNK_RUNS, sizes.runs))]
        write(tuple([row for part in parts for row in part[j]] for j in range(5)))  # type: ignore[arg-type]
        if first % 1000 == 0:
            log(f"mlflow: {first + len(parts)}/{sizes.runs} runs")
    long_id = run_id(sizes.runs)
    write(_mlflow_rows(sizes.runs, sizes, experiment, str(folder / "artifacts")))
    chunk = 200_000
    last = None
    for start in range(0, sizes.long_steps, chunk):
        rows = [(k, v, ts, long_id, s, 0) for k, v, ts, s in long_points(start, min(start + chunk, sizes.long_steps))]
        with con:
            con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
                            " VALUES (?,?,?,?,?,?)", rows)
        last = rows[-1]
    if last is not None:
        with con:
            con.execute("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                        " VALUES (?,?,?,?,?,?)", (last[0], last[1], last[2], last[4], 0, long_id))
    con.execute("ANALYZE")  # as MLflow's own tables would be after use: let the planner see the sizes
    con.close()
    check = json.loads(subprocess.run([str(python), "-c", MLFLOW_CHECK, uri, run_id(0)], capture_output=True,
                                      text=True, check=True).stdout.strip().splitlines()[-1])
    expected = {"name": run_name(0), "params": 5, "metrics": sizes.metrics,
                "history": sizes.steps if sizes.with_history else 1}
    if check != expected:
        raise RuntimeError(f"MLflow reads back {check}, expected {expected}")
    return {"experiment": str(experiment), "long_run": long_id, "seconds": time.perf_counter() - started, "uri": uri}


def cached(sizes: Sizes, python: Path | None, log: Any) -> dict[str, Any]:
    """Both stores for ``sizes``, built once (``python``: MLflow's venv, None to skip it)."""
    folder = sizes.folder()
    marker = folder / "built.json"
    built = json.loads(marker.read_text()) if marker.is_file() else {"sizes": asdict(sizes)}
    if "shipyard" not in built:
        shutil.rmtree(folder / "shipyard", ignore_errors=True)
        (folder / "shipyard").mkdir(parents=True)
        built["shipyard"] = build_shipyard(folder / "shipyard", sizes, log)
        marker.write_text(json.dumps(built))
    if python is not None and "mlflow" not in built:
        shutil.rmtree(folder / "mlflow", ignore_errors=True)
        (folder / "mlflow").mkdir(parents=True)
        built["mlflow"] = build_mlflow(folder / "mlflow", python, sizes, log)
        marker.write_text(json.dumps(built))
    built["folder"] = str(folder)
    return built
