"""MLflow compatibility benchmark: the unchanged ``mlflow`` client against both servers.

The foundation issue's tracking workload (one run, 50 params and 20 metrics x 500
steps, one client call per param and per point) is run by the official ``mlflow``
3.17 client, in its own throwaway venv (``benchmarks/.venvs/mlflow-3.17``), against

* ``shipyard server`` (its default SQLite store), through the MLflow-compatible API, and
* ``mlflow server`` with a SQLite backend store,

one after the other in the same invocation, each on a fresh tmpfs directory. Target:
the client finishes at least 3x faster against Shipyard. The run is then read back
through the client from each server (params, every metric's full history, latest
values, status, name) and the two summaries must be identical.

    .venv/bin/python benchmarks/mlflow_compat.py [--steps N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import (  # noqa: E402
    BENCH_DIR,
    PeerError,
    Row,
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
MLFLOW_REQUIREMENTS = ["mlflow==3.17.0"]  # the same venv as benchmarks/tracking.py
PEER_SCRIPT = BENCH_DIR / "peers" / "mlflow_compat.py"
PEER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
TIMEOUT_S = 1800  # mlflow server needs about 150 s for the default workload
MIN_RATIO = 3.0


def _shipyard_cmd(port: int) -> list[str]:
    exe = Path(sys.executable).with_name("shipyard")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "shipyard"]
    return [*base, "server", "--host", "127.0.0.1", "--port", str(port)]


def _client(venv: Path, url: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    sizes = ["--params", str(args.params), "--metrics", str(args.metrics), "--steps", str(args.steps)]
    return run_in_venv(venv, PEER_SCRIPT, [url, *sizes], timeout=TIMEOUT_S, env=PEER_ENV, cwd=work)


def against_shipyard(venv: Path, args: argparse.Namespace) -> dict[str, Any]:
    with scratch_dir("bench-compat-shipyard-") as work:
        port = free_port()
        src = Path(__file__).resolve().parent.parent / "src"
        env = {"SHIPYARD_HOME": str(work / "home"), "PYTHONPATH": str(src)}
        with start_process(_shipyard_cmd(port), env, cwd=work, log_path=work / "server.log", clean_env=False) as p:
            wait_http(f"http://127.0.0.1:{port}/api/v1/health", timeout=60, proc=p)
            return _client(venv, f"http://127.0.0.1:{port}", work, args)


def against_mlflow(venv: Path, args: argparse.Namespace) -> dict[str, Any]:
    with scratch_dir("bench-compat-mlflow-") as work:
        port = free_port()
        cmd = [str(venv / "bin" / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
               "--artifacts-destination", str(work / "mlartifacts"), "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
        with start_process(cmd, PEER_ENV, cwd=work, log_path=work / "mlflow-server.log") as p:
            wait_http(f"http://127.0.0.1:{port}/health", timeout=180, proc=p)
            return _client(venv, f"http://127.0.0.1:{port}", work, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The mlflow client against shipyard server and mlflow server.")
    parser.add_argument("--params", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    args = parser.parse_args(argv)
    calls = args.params + args.metrics * args.steps

    results: dict[str, dict[str, Any]] = {}
    errors: list[tuple[str, str]] = []
    try:
        with step(f"MLflow venv ({' '.join(MLFLOW_REQUIREMENTS)})"):
            venv = peer_venv(MLFLOW_VENV, MLFLOW_REQUIREMENTS)
    except PeerError as exc:
        print(f"cannot set up the mlflow client: {exc}", file=sys.stderr)
        return 1
    for side, fn, estimate in (("shipyard", against_shipyard, calls / 500), ("mlflow", against_mlflow, calls / 64)):
        with step(f"mlflow client -> {side} server: {calls:,} calls (about {estimate:.0f} s)"):
            try:
                results[side] = fn(venv, args)
            except Exception as exc:  # report every failure, run the other side
                errors.append((side, "".join(traceback.format_exception(exc))))

    def seconds(side: str) -> float | None:
        return results.get(side, {}).get("seconds")

    row = Row(f"mlflow client: {args.params} params + {args.metrics}x{args.steps} metrics, one call each",
              seconds("shipyard"), seconds("mlflow"), min_ratio=MIN_RATIO)
    print_table([row], peer="mlflow server", title="MLflow client against shipyard server vs mlflow server "
                "(ratio = mlflow seconds / Shipyard seconds)")
    for side in ("shipyard", "mlflow"):
        if side in results:
            r = results[side]
            print(f"{side:>8}: {r['calls_per_s']:,.0f} calls/s, {r['points']:,} points read back, "
                  f"digest {r['digest'][:16]}")
    identical = len(results) == 2 and results["shipyard"]["digest"] == results["mlflow"]["digest"]
    if len(results) == 2:
        print(f"data read back through the client: {'identical' if identical else 'DIFFERENT'}")
        if not identical:
            ours, theirs = results["shipyard"]["data"], results["mlflow"]["data"]
            for key in ours:
                if ours[key] != theirs.get(key):
                    print(f"  differs in {key!r}", file=sys.stderr)
    if args.json:
        slim = {side: {k: v for k, v in r.items() if k != "data"} for side, r in results.items()}
        args.json.write_text(json.dumps({"results": slim, "identical": identical,
                                         "errors": [e[0] for e in errors]}, indent=2))
    for where, text in errors:
        print(f"\n--- error against {where} ---\n{text}", file=sys.stderr)
    return 1 if errors or not identical or row.passed is False else 0


if __name__ == "__main__":
    sys.exit(main())
