"""The ``mlflow`` client's side of ``benchmarks/mlflow_compat.py``; runs inside the MLflow peer venv.

    python mlflow_compat.py URL [--params 50 --metrics 20 --steps 500]

Runs the foundation issue's tracking workload against the tracking server at URL with
the unchanged client (one call per param and per point, synchronous), then reads the
run back through the client. The last stdout line is a JSON object: the seconds, and
``data``, a canonical summary of what was read back (params, every metric's history as
(step, value) pairs, latest values, status, name), so the two servers' answers can be
compared exactly. Timestamps are wall-clock and left out of the comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def _value(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--params", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()

    mlflow.set_tracking_uri(args.url)
    t0 = time.perf_counter()
    # Warm-up, outside the clock: connection, experiment, the run path's first-call costs.
    mlflow.set_experiment("compat-bench")
    with mlflow.start_run(run_name="warm-up"):
        pass
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with mlflow.start_run(run_name="bench") as run:
        for i in range(args.params):
            mlflow.log_param(f"p{i}", i)
        for step in range(args.steps):
            for m in range(args.metrics):
                mlflow.log_metric(f"m{m}", float(step) / (m + 1), step=step)
    seconds = time.perf_counter() - t0

    client = MlflowClient()
    stored = client.get_run(run.info.run_id)
    data = {
        "name": stored.info.run_name,
        "status": stored.info.status,
        "params": dict(sorted(stored.data.params.items())),
        "latest": {k: _value(v) for k, v in sorted(stored.data.metrics.items())},
        "history": {
            f"m{m}": [(p.step, _value(p.value)) for p in
                      sorted(client.get_metric_history(run.info.run_id, f"m{m}"), key=lambda p: p.step)]
            for m in range(args.metrics)
        },
    }
    points = sum(len(h) for h in data["history"].values())
    if points != args.metrics * args.steps:
        raise SystemExit(f"expected {args.metrics * args.steps} points, read back {points}")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    calls = args.params + args.metrics * args.steps
    print(json.dumps({"seconds": seconds, "setup_s": setup_s, "calls": calls, "calls_per_s": calls / seconds,
                      "points": points, "digest": digest, "data": data}))


if __name__ == "__main__":
    main()
