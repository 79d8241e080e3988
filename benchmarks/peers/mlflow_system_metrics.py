"""MLflow's side of ``benchmarks/system_metrics.py``; runs inside the MLflow peer venv.

Usage (the last stdout line is a JSON object with the figures):

    python mlflow_system_metrics.py DIR --seconds 5 --interval 0.1 --work 5000000 --repeat 3 --burn-repeat 8

The same two workloads as Shipyard's side, on MLflow's defaults (SQLite store, synchronous
logging) with ``mlflow.start_run(log_system_metrics=True)`` and the sampling interval set
by ``mlflow.set_system_metrics_sampling_interval``:

* idle: process CPU time (every thread) of a run whose main thread sleeps ``seconds``,
  sampled and not (best of ``repeat`` each), and how many readings the sampled one kept;
* burn: wall time of a fixed CPU-bound workload in a sampled run and in one not sampled
  (best of ``burn-repeat`` each, in turn).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

# Keep MLflow from phoning home or nagging; neither is part of what we measure.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def burn(units: int) -> int:
    """A CPU-bound pure-Python loop (the same as Shipyard's side)."""
    total = 0
    for i in range(units):
        total += i * i % 7
    return total


def run_once(sampled: bool, body: Any) -> tuple[float, float, str]:
    """Process CPU seconds and wall seconds of one run around ``body()``, start and end included."""
    cpu, wall = time.process_time(), time.perf_counter()
    with mlflow.start_run(log_system_metrics=sampled) as run:
        body()
    return time.process_time() - cpu, time.perf_counter() - wall, run.info.run_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--work", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--burn-repeat", type=int, default=8)
    args = parser.parse_args()

    mlflow.set_tracking_uri(f"sqlite:///{Path(args.directory).absolute() / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    mlflow.set_system_metrics_sampling_interval(args.interval)
    mlflow.set_system_metrics_samples_before_logging(1)
    # Warm-up, excluded: the schema, the imports of both paths (psutil on the first sampled run).
    run_once(False, lambda: None)
    run_once(True, lambda: time.sleep(2 * args.interval))

    idle_off, idle_on, readings = [], [], 0
    for _ in range(args.repeat):
        idle_off.append(run_once(False, lambda: time.sleep(args.seconds))[0])
        cpu, _, run_id = run_once(True, lambda: time.sleep(args.seconds))
        idle_on.append(cpu)
        readings = len(MlflowClient().get_metric_history(run_id, "system/cpu_utilization_percentage"))

    burn_off, burn_on = [], []
    for i in range(args.burn_repeat):  # in turn, each first every other round: drift favours neither
        for sampled in (i % 2 == 0, i % 2 == 1):
            (burn_on if sampled else burn_off).append(run_once(sampled, lambda: burn(args.work))[1])

    print(json.dumps({"idle_off_cpu_s": min(idle_off), "idle_on_cpu_s": min(idle_on), "readings": readings,
                      "burn_off_s": min(burn_off), "burn_on_s": min(burn_on), "mlflow": mlflow.__version__}))


if __name__ == "__main__":
    main()
