"""Tracking benchmark: Shipyard against MLflow 3.17, side by side in one run.

Workloads (the same on both sides):

* logging: one run with 50 params (one call each) and 20 metrics x 500 steps, one
  ``log_metric`` call per point, timed until everything is durably stored -- in-process
  (MLflow on SQLite) and through a server (``shipyard server`` vs ``mlflow server``);
* search: ``search_runs`` with ``metrics.auc > 0.8`` ordered by ``metrics.auc DESC``,
  50 results, over 10,000 runs (best of 5);
* history: fetching a 100,000-step metric history (best of 3);
* startup: what a user pays at start-up -- in a fresh process, ``import shipyard`` + the
  first ``start_run`` + 10 ``log_metric`` + ``end_run`` (until durably stored) against
  ``import mlflow`` + ``mlflow.start_run()`` + 10 ``log_metric`` + ``end_run()`` on
  SQLite, each timed from just before the interpreter is launched, on a fresh store;
  the time until ``start_run`` returns and the total, best and median of 7 runs
  alternating between the two sides (after one untimed warm-up of each).

Targets: in-process >= 50x faster than MLflow; via server >= 20x faster than
``mlflow server``; search over 10,000 runs under 100 ms.

With ``--auth`` the server workload instead runs Shipyard alone, authentication off
against authentication on (a user ``bench`` with the editor role and an API token created
with the CLI in the server's home once it runs, the client sending that token), alternating
between the two for ``--auth-rounds`` rounds after one untimed warm-up round, and reports
auth-on seconds / auth-off seconds (target: at most 1.05).

MLflow is installed into its own throwaway venv (``benchmarks/.venvs/mlflow-3.17``) on
first use and runs in a subprocess; Shipyard runs in this interpreter. All state lives
on tmpfs (``/dev/shm``) because disk speed here swings 20x. Compare the ratios, not the
seconds: this machine is noisy.

    .venv/bin/python benchmarks/tracking.py [--skip-peer] [--steps N] [--only search,startup]
    .venv/bin/python benchmarks/tracking.py --only server --skip-peer --auth
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import (  # noqa: E402
    BENCH_DIR,
    PeerError,
    Row,
    Timer,
    best_of,
    create_token,
    expect_refused,
    fmt_seconds,
    free_port,
    peer_venv,
    print_table,
    run_in_venv,
    scratch_dir,
    start_process,
    step,
    wait_http,
)

MLFLOW_VENV = "mlflow-3.17"
MLFLOW_REQUIREMENTS = ["mlflow==3.17.0"]
PEER_SCRIPT = BENCH_DIR / "peers" / "mlflow_tracking.py"
PEER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
PEER_TIMEOUT_S = 1800  # mlflow server needs about 150 s for the default workload
WORKLOADS = ("inprocess", "server", "search", "history", "startup")
AUTH_MAX_RATIO = 1.05  # authentication may cost the logging path at most 5 %
Result = dict[str, Any]
OursFn = Callable[..., Result]  # (shipyard module, work dir, sizes) -> result
PeerFn = Callable[[Path, Path], Result]  # (peer venv, work dir) -> result


@dataclass(frozen=True)
class Sizes:
    params: int = 50
    metrics: int = 20
    steps: int = 500
    runs: int = 10_000
    points: int = 100_000
    startups: int = 7  # fresh processes per side for the startup workload
    startup_metrics: int = 10  # log_metric calls in each of them

    @property
    def calls(self) -> int:
        return self.params + self.metrics * self.steps

    def peer_args(self) -> list[str]:
        return [
            "--params",
            str(self.params),
            "--metrics",
            str(self.metrics),
            "--steps",
            str(self.steps),
            "--runs",
            str(self.runs),
            "--points",
            str(self.points),
        ]


def import_shipyard() -> Any:
    """The installed ``shipyard``, else the one in ``src/`` (an uninstalled checkout)."""
    try:
        import shipyard
    except ImportError:
        sys.path.insert(0, str(BENCH_DIR.parent / "src"))
        import shipyard
    return shipyard


# --- Shipyard side -----------------------------------------------------------------------


def sy_logging(sy: Any, client: Any, sizes: Sizes) -> dict[str, Any]:
    """The logging workload against ``client``; returns seconds and calls/s."""
    # Warm-up, excluded (MLflow's side does the same): creates the schema and the
    # experiment and takes the first-call costs of the run path.
    with sy.start_run(experiment="bench", client=client):
        pass
    # The run's exit (which flushes everything durably) happens before the Timer's, so
    # the clock includes the flush.
    with Timer() as t, sy.start_run(experiment="bench", client=client) as run:
        for i in range(sizes.params):
            sy.log_param(f"p{i}", i)
        for s in range(sizes.steps):
            for m in range(sizes.metrics):
                sy.log_metric(f"m{m}", float(s), step=s)
    # Read back outside the clock, so a dropped point cannot flatter Shipyard.
    stored = len(client.get_metric_history(run.id, "m0"))
    if stored != sizes.steps:
        raise AssertionError(f"expected {sizes.steps} points of m0, Shipyard stored {stored}")
    # The client's logging buffer bound as configured (the defaults unless SHIPYARD_LOG_BUFFER_*
    # says otherwise): a workload of more calls than it holds runs under backpressure.
    bound = {"buffer_points": client.config.log_buffer_points, "buffer_bytes": client.config.log_buffer_bytes}
    return {"seconds": t.seconds, "calls": sizes.calls, "calls_per_s": sizes.calls / t.seconds, **bound}


def sy_inprocess(sy: Any, work: Path, sizes: Sizes) -> dict[str, Any]:
    client = sy.Client(home=str(work / "sy"))
    try:
        return sy_logging(sy, client, sizes)
    finally:
        client.close()


def _shipyard_cli() -> list[str]:
    """The ``shipyard`` entry point beside this interpreter, else ``python -m shipyard``."""
    exe = Path(sys.executable).with_name("shipyard")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "shipyard"]


def sy_server(sy: Any, work: Path, sizes: Sizes, auth: bool = False) -> dict[str, Any]:
    """The logging workload through ``shipyard server``; with ``auth``, a user and a token are
    created in the server's home once it runs (which turns authentication on) and the client sends it."""
    port = free_port()
    cmd = [*_shipyard_cli(), "server", "--host", "127.0.0.1", "--port", str(port)]
    # PYTHONPATH makes the server run the very code this process imported.
    env = {"SHIPYARD_HOME": str(work / "sy"), "PYTHONPATH": str(Path(sy.__file__).parent.parent)}
    token = None
    with start_process(cmd, env, cwd=work, log_path=work / "server.log", clean_env=False) as proc:
        wait_http(f"http://127.0.0.1:{port}/api/v1/health", timeout=60, proc=proc)
        if auth:
            # Only now, so that both sides' servers start alike: each creates its new home's
            # database itself. A server started on a home the CLI had created skips that, and
            # with it imports that the first logged metrics then pay inside the timed run.
            token = create_token(_shipyard_cli(), env)
            _until_refused(f"http://127.0.0.1:{port}/api/v1/experiments")
        client = sy.Client(url=f"http://127.0.0.1:{port}", token=token)
        try:
            return sy_logging(sy, client, sizes)
        finally:
            client.close()


def _until_refused(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 401 without credentials: a running server sees its first
    user within a couple of seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect_refused(url)
            return
        except PeerError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _seed_shipyard_runs(db: Path, experiment_id: int, n_runs: int) -> None:
    """Bulk-insert finished runs with ``auc`` and ``depth`` into Shipyard's tables.

    The same approach as MLflow's side: going through the API would measure seeding,
    not search. Columns follow ``shipyard/store/schema.py``.
    """
    rng = random.Random(42)
    now = 1_700_000_000_000
    runs, params, points = [], [], []
    for i in range(n_runs):
        rid = uuid.uuid4().hex
        ts = now + i
        runs.append((rid, experiment_id, f"run-{i}", "FINISHED", ts, ts + 1, "active", "bench"))
        params.append((rid, "depth", str(rng.randint(1, 12))))
        points.append((rid, "auc", 0, ts, rng.random()))
    con = sqlite3.connect(db)
    with con:  # one transaction
        con.executemany(
            "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time,"
            " lifecycle_stage, user) VALUES (?,?,?,?,?,?,?,?)",
            runs,
        )
        con.executemany("INSERT INTO params (run_id, key, value) VALUES (?,?,?)", params)
        for table in ("metrics", "latest_metrics"):
            con.executemany(
                f"INSERT INTO {table} (run_id, key, step, timestamp, value) VALUES (?,?,?,?,?)",
                points,
            )
    con.execute("ANALYZE")  # as on MLflow's side
    con.close()


def sy_search(sy: Any, work: Path, sizes: Sizes) -> dict[str, Any]:
    home = work / "sy"
    with Timer() as setup:
        client = sy.Client(home=str(home))
        # One run through the API creates the schema and the experiment.
        experiment_id = int(client.create_run("search", name="seed").experiment_id)
        client.close()
        from shipyard.config import Config

        db = Path(Config(home=home).database_url.removeprefix("sqlite:///"))
        _seed_shipyard_runs(db, experiment_id, sizes.runs)
    client = sy.Client(home=str(home))
    try:

        def search() -> Any:
            return client.search_runs(
                "search", filter="metrics.auc > 0.8", order_by=["metrics.auc DESC"], max_results=50
            )

        found = list(search())
        aucs = [r.metrics["auc"].value for r in found]
        if len(found) != 50 or aucs != sorted(aucs, reverse=True) or min(aucs) <= 0.8:
            raise AssertionError(f"unexpected search result: {len(found)} runs, aucs {aucs[:5]}")
        if found[0].params.get("depth") is None:
            raise AssertionError("seeded params are not visible to Shipyard")
        seconds = best_of(5, search)
    finally:
        client.close()
    return {"seconds": seconds, "setup_s": setup.seconds, "runs": sizes.runs}


def sy_history(sy: Any, work: Path, sizes: Sizes) -> dict[str, Any]:
    client = sy.Client(home=str(work / "sy"))
    try:
        with Timer() as setup, sy.start_run(experiment="history", client=client) as run:
            for s in range(sizes.points):
                sy.log_metric("loss", 1.0 / (s + 1), step=s)
        got = len(client.get_metric_history(run.id, "loss"))
        if got != sizes.points:
            raise AssertionError(f"expected {sizes.points} points, got {got}")
        full = best_of(3, lambda: client.get_metric_history(run.id, "loss"))
        down = client.get_metric_history(run.id, "loss", max_points=1000)
        if not 2 <= len(down) <= 1001:
            raise AssertionError(f"max_points=1000 returned {len(down)} points")
        sampled = best_of(3, lambda: client.get_metric_history(run.id, "loss", max_points=1000))
    finally:
        client.close()
    return {"seconds": full, "max_points_1000_s": sampled, "setup_s": setup.seconds, "points": sizes.points}


# The startup workload's child processes. Each prints wall-clock marks (time.time(), the
# clock the parent reads just before launching it) after the import, when start_run has
# returned and when end_run has returned, then checks outside the clock that every point
# was stored. The store location comes from the environment (a fresh one per process).
SY_STARTUP_CODE = """
import time
import shipyard
imported = time.time()
run = shipyard.start_run()
started = time.time()
for i in range({n}):
    shipyard.log_metric("m", float(i), step=i)
shipyard.end_run()
ended = time.time()
import json
stored = len(shipyard.get_client().get_metric_history(run.id, "m"))
print(json.dumps({{"imported": imported, "started": started, "ended": ended, "stored": stored}}))
"""

MLFLOW_STARTUP_CODE = """
import time
import mlflow
imported = time.time()
run = mlflow.start_run()
started = time.time()
for i in range({n}):
    mlflow.log_metric("m", float(i), step=i)
mlflow.end_run()
ended = time.time()
import json
from mlflow.tracking import MlflowClient
stored = len(MlflowClient().get_metric_history(run.info.run_id, "m"))
print(json.dumps({{"imported": imported, "started": started, "ended": ended, "stored": stored}}))
"""


def _startup_sample(venv: Path, code: str, env: dict[str, str], work: Path, n_metrics: int) -> Result:
    """Launch one fresh interpreter running ``code``; seconds from launch to each mark."""
    launched = time.time()
    marks = run_in_venv(venv, code, timeout=300, env=env, cwd=work)
    if marks["stored"] != n_metrics:
        raise AssertionError(f"expected {n_metrics} points stored, found {marks['stored']}")
    return {
        "import_s": marks["imported"] - launched,
        "start_run_s": marks["started"] - launched,
        "seconds": marks["ended"] - launched,
    }


def sy_startup(sy: Any, work: Path, sizes: Sizes) -> Result:
    # This interpreter's venv and, on PYTHONPATH, the very code this process imported.
    env = {"SHIPYARD_HOME": str(work / "sy"), "PYTHONPATH": str(Path(sy.__file__).parent.parent)}
    code = SY_STARTUP_CODE.format(n=sizes.startup_metrics)
    return _startup_sample(Path(sys.prefix), code, env, work, sizes.startup_metrics)


# --- MLflow side -------------------------------------------------------------------------


def mlflow_startup(venv: Path, work: Path, sizes: Sizes) -> Result:
    env = {**PEER_ENV, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    code = MLFLOW_STARTUP_CODE.format(n=sizes.startup_metrics)
    return _startup_sample(venv, code, env, work, sizes.startup_metrics)



def mlflow_local(venv: Path, mode: str, work: Path, sizes: Sizes) -> dict[str, Any]:
    return run_in_venv(
        venv,
        PEER_SCRIPT,
        [mode, str(work), *sizes.peer_args()],
        timeout=PEER_TIMEOUT_S,
        env=PEER_ENV,
        cwd=work,
    )


def mlflow_server(venv: Path, work: Path, sizes: Sizes) -> dict[str, Any]:
    port = free_port()
    cmd = [
        str(venv / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{work / 'mlflow.db'}",
        "--artifacts-destination",
        str(work / "mlartifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with start_process(cmd, PEER_ENV, cwd=work, log_path=work / "mlflow-server.log") as proc:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=180, proc=proc)
        return run_in_venv(
            venv,
            PEER_SCRIPT,
            ["server", f"http://127.0.0.1:{port}", *sizes.peer_args()],
            timeout=PEER_TIMEOUT_S,
            env=PEER_ENV,
            cwd=work,
        )


# --- driver ------------------------------------------------------------------------------


class Bench:
    """Runs each side of each workload in a fresh tmpfs directory, keeping going on errors."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.errors: list[tuple[str, str]] = []

    def run(self, workload: str, side: str, label: str, fn: Callable[[Path], dict[str, Any]]) -> None:
        with scratch_dir(f"bench-{workload}-{side}-") as work, step(label):
            try:
                self.results.setdefault(workload, {})[side] = fn(work)
            except Exception as exc:  # report every failure, run the rest
                self.errors.append((f"{side} {workload}", "".join(traceback.format_exception(exc))))

    def alternate(self, workload: str, sides: dict[str, tuple[str, Callable[[Path], Result]]], runs: int) -> None:
        """Run the sides in turn, ``runs`` rounds after one untimed warm-up round, each sample in
        a fresh tmpfs directory; keep, per side and figure, the best and the median."""
        samples: dict[str, list[Result]] = {side: [] for side in sides}
        failed: set[str] = set()
        for round_no in range(runs + 1):
            for side, (label, fn) in sides.items():
                if side in failed:
                    continue
                which = "warm-up" if round_no == 0 else f"{round_no}/{runs}"
                with scratch_dir(f"bench-{workload}-{side}-") as work, step(f"{label} ({which})"):
                    try:
                        result = fn(work)
                    except Exception as exc:  # report it, and stop timing this side
                        failed.add(side)
                        self.errors.append((f"{side} {workload}", "".join(traceback.format_exception(exc))))
                        continue
                if round_no:
                    samples[side].append(result)
        for side, results in samples.items():
            if side in failed or not results:
                continue
            summary: dict[str, Any] = {"runs": len(results), "samples": results}
            for field in results[0]:
                values = [r[field] for r in results]
                summary[field] = min(values)
                summary[f"{field}_median"] = statistics.median(values)
            self.results.setdefault(workload, {})[side] = summary

    def seconds(self, workload: str, side: str, field: str = "seconds") -> float | None:
        value = self.results.get(workload, {}).get(side, {}).get(field)
        return float(value) if value is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Shipyard vs MLflow 3.17: tracking.")
    parser.add_argument("--skip-peer", action="store_true", help="run only Shipyard's side")
    parser.add_argument("--steps", type=int, default=Sizes.steps, help="steps per metric (500)")
    parser.add_argument(
        "--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {','.join(WORKLOADS)}"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="server workload: Shipyard with authentication off against on (no peer), alternating",
    )
    parser.add_argument("--auth-rounds", type=int, default=7, help="timed rounds per side with --auth (7)")
    args = parser.parse_args(argv)
    selected = [w.strip() for w in args.only.split(",") if w.strip()]
    if unknown := sorted(set(selected) - set(WORKLOADS)):
        parser.error(f"unknown workloads {unknown}")
    sizes = Sizes(steps=args.steps)
    bench = Bench()

    sy: Any = None
    try:
        sy = import_shipyard()
    except Exception as exc:
        bench.errors.append(("shipyard import", "".join(traceback.format_exception(exc))))

    venv: Path | None = None
    if not args.skip_peer:
        try:
            with step(f"MLflow venv ({' '.join(MLFLOW_REQUIREMENTS)})"):
                venv = peer_venv(MLFLOW_VENV, MLFLOW_REQUIREMENTS)
        except PeerError as exc:
            bench.errors.append(("mlflow venv", str(exc)))

    # Rough durations at MLflow's measured pace (about 190 calls/s in-process, 64 via
    # server), so whoever watches knows the wait is expected.
    plan: dict[str, tuple[OursFn, PeerFn, str, float]] = {
        "inprocess": (
            sy_inprocess,
            lambda v, w: mlflow_local(v, "inprocess", w, sizes),
            f"{sizes.calls:,} logging calls in-process",
            sizes.calls / 190,
        ),
        "server": (
            sy_server,
            lambda v, w: mlflow_server(v, w, sizes),
            f"{sizes.calls:,} logging calls via server",
            sizes.calls / 64,
        ),
        "search": (
            sy_search,
            lambda v, w: mlflow_local(v, "search", w, sizes),
            f"search_runs over {sizes.runs:,} runs, seeding included",
            10,
        ),
        "history": (
            sy_history,
            lambda v, w: mlflow_local(v, "history", w, sizes),
            f"{sizes.points:,}-step metric history, seeding included",
            35,
        ),
        "startup": (
            sy_startup,
            lambda v, w: mlflow_startup(v, w, sizes),
            f"fresh process: import + start_run + {sizes.startup_metrics} log_metric + end_run",
            5,
        ),
    }
    for workload in selected:
        ours, peer, label, peer_estimate = plan[workload]
        if workload == "server" and args.auth:
            # Alternating, so that a change in the machine's load hits both sides alike.
            if sy is not None:
                auth_sides: dict[str, tuple[str, Callable[[Path], Result]]] = {
                    "auth off": (f"Shipyard, auth off: {label}", partial(sy_server, sy, sizes=sizes)),
                    "auth on": (f"Shipyard, auth on:  {label}", partial(sy_server, sy, sizes=sizes, auth=True)),
                }
                bench.alternate("server", auth_sides, args.auth_rounds)
            continue
        if workload == "startup":
            # Alternating, so that a change in the machine's load hits both sides alike.
            sides: dict[str, tuple[str, Callable[[Path], Result]]] = {}
            if sy is not None:
                sides["shipyard"] = (f"Shipyard: {label}", partial(ours, sy, sizes=sizes))
            if venv is not None:
                sides["mlflow"] = (f"MLflow:   {label} (about {peer_estimate:.0f} s)", partial(peer, venv))
            bench.alternate(workload, sides, sizes.startups)
            continue
        if sy is not None:
            bench.run(workload, "shipyard", f"Shipyard: {label}", partial(ours, sy, sizes=sizes))
        if venv is not None:
            bench.run(
                workload, "mlflow", f"MLflow:   {label} (about {peer_estimate:.0f} s)", partial(peer, venv)
            )

    logging = f"{sizes.params} params + {sizes.metrics}x{sizes.steps} metrics"
    rows = []
    if "inprocess" in selected:
        rows.append(
            Row(
                f"log {logging}, in-process",
                bench.seconds("inprocess", "shipyard"),
                bench.seconds("inprocess", "mlflow"),
                min_ratio=50,
            )
        )
    if "server" in selected and not args.auth:
        rows.append(
            Row(
                f"log {logging}, via server",
                bench.seconds("server", "shipyard"),
                bench.seconds("server", "mlflow"),
                min_ratio=20,
            )
        )
    if "search" in selected:
        rows.append(
            Row(
                f"search_runs over {sizes.runs:,} runs, top 50",
                bench.seconds("search", "shipyard"),
                bench.seconds("search", "mlflow"),
                max_seconds=0.1,
            )
        )
    if "history" in selected:
        rows.append(
            Row(
                f"get_metric_history, {sizes.points:,} steps",
                bench.seconds("history", "shipyard"),
                bench.seconds("history", "mlflow"),
            )
        )
        rows.append(
            Row(
                "  the same, max_points=1000", bench.seconds("history", "shipyard", "max_points_1000_s"), None
            )
        )
    if "startup" in selected:
        what = f"import + first start_run + {sizes.startup_metrics} log_metric + end_run"
        for field, name in (("start_run_s", "until start_run returns"), ("seconds", f"{what}, stored")):
            for stat, suffix in (("best", ""), ("median", "_median")):
                rows.append(
                    Row(
                        f"fresh process, {name} ({stat} of {sizes.startups})",
                        bench.seconds("startup", "shipyard", field + suffix),
                        bench.seconds("startup", "mlflow", field + suffix),
                    )
                )
    title = "Tracking: Shipyard vs MLflow 3.17 (ratio = MLflow seconds / Shipyard seconds)"
    if rows:
        print_table(rows, peer="MLflow 3.17", title=title)
    if "server" in selected and args.auth:
        auth_rows = [
            Row(
                f"log {logging}, via server ({stat} of {args.auth_rounds})",
                bench.seconds("server", "auth off", "seconds" + suffix),
                bench.seconds("server", "auth on", "seconds" + suffix),
                max_ratio=AUTH_MAX_RATIO,
            )
            for stat, suffix in (("best", ""), ("median", "_median"))
        ]
        print_table(
            auth_rows,
            peer="auth on",
            title="Authentication overhead (ratio = auth-on seconds / auth-off seconds; 'Shipyard' = auth off)",
        )
        rows.extend(auth_rows)

    for workload in ("inprocess", "server"):
        if workload in selected:
            # With --auth the sides were alternated: the rate of each side's best round.
            rate_sides = ("auth off", "auth on") if workload == "server" and args.auth else ("shipyard", "mlflow")
            rates = [
                f"{side} {sizes.calls / bench.results[workload][side]['seconds']:,.0f}"
                for side in rate_sides
                if side in bench.results.get(workload, {})
            ]
            ours = bench.results.get(workload, {}).get(rate_sides[0], {})
            bound = (f" (Shipyard's logging buffer bound: {ours['buffer_points']:,} entries, "
                     f"{ours['buffer_bytes'] / 2**20:g} MiB)" if "buffer_points" in ours else "")
            print(f"logging calls/s, {workload}: {', '.join(rates) or '-'}{bound}")
    if "startup" in selected:
        imports = [
            f"{side} {fmt_seconds(bench.seconds('startup', side, 'import_s'))}"
            f" (median {fmt_seconds(bench.seconds('startup', side, 'import_s_median'))})"
            for side in ("shipyard", "mlflow")
            if side in bench.results.get("startup", {})
        ]
        print(f"startup, launch until the import is done: {', '.join(imports) or '-'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"sizes": asdict(sizes), "results": bench.results, "errors": [e[0] for e in bench.errors]},
                indent=2,
            )
        )
    for where, text in bench.errors:
        print(f"\n--- error in {where} ---\n{text}", file=sys.stderr)
    failed = any(r.passed is False for r in rows)
    return 1 if bench.errors or failed else 0


if __name__ == "__main__":
    sys.exit(main())
