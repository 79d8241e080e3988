"""MLflow's side of ``benchmarks/registry.py``; runs inside the MLflow peer venv.

    python mlflow_registry.py DIR [--versions 1000] [--resolves 10000] [--mb 50]

Prints one JSON object (seconds) as its last stdout line. Setup (schema, logging the
model once) is excluded from every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--resolves", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    mlflow.set_tracking_uri(f"sqlite:///{args.dir}/mlflow.db")
    mlflow.set_registry_uri(f"sqlite:///{args.dir}/mlflow.db")
    client = MlflowClient()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 20)), rng.integers(0, 2, 200)
    small = LogisticRegression().fit(x, y)
    big = LogisticRegression().fit(x, y)
    big.padding_ = rng.random(args.mb * 1024 * 1024 // 8)  # a package of the requested size
    mlflow.set_experiment("registry-bench")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(small, name="small")
        mlflow.sklearn.log_model(big, name="big")
    # MLflow 3 may log models as LoggedModels; register through the run URI like users do.
    small_uri, big_uri = f"runs:/{run.info.run_id}/small", f"runs:/{run.info.run_id}/big"

    start = time.perf_counter()
    for _ in range(args.versions):
        mlflow.register_model(small_uri, "x")
    register_s = time.perf_counter() - start
    client.set_registered_model_alias("x", "production", args.versions)

    for _ in range(50):  # warm-up
        client.get_model_version_by_alias("x", "production")
    start = time.perf_counter()
    for _ in range(args.resolves):
        mv = client.get_model_version_by_alias("x", "production")
    resolve_s = (time.perf_counter() - start) / args.resolves
    assert int(mv.version) == args.versions

    mlflow.register_model(big_uri, "big")
    client.set_registered_model_alias("big", "production", 1)
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        model = mlflow.sklearn.load_model("models:/big@production")
        loads.append(time.perf_counter() - start)
    assert model.padding_.shape == big.padding_.shape
    print(json.dumps({"register_1000_s": register_s, "resolve_s": resolve_s,
                      "load_first_s": loads[0], "load_best_s": min(loads), "versions": args.versions}))


if __name__ == "__main__":
    main()
