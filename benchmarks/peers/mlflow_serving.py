"""MLflow's side of ``benchmarks/serving.py``: save the two models as MLflow packages.

    python mlflow_serving.py DIR

Runs inside the MLflow 3.17 peer venv. Trains the same two models on the same data as
the Shipyard side (same seed, same scikit-learn version), saves each with
``mlflow.sklearn.save_model`` (input example as a DataFrame, so MLflow enforces a
schema exactly as it does for a logged model), and measures the models alone:
single-row ``predict`` on a DataFrame and 1,000-row batches. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(5000, 20)), columns=[f"f{i}" for i in range(20)])
    y = ((x["f0"] + 0.5 * x["f1"] - x["f2"] + rng.normal(scale=0.5, size=len(x))) > 0).astype(int).to_numpy()
    return x, y


def per_second(fn, seconds: float = 1.0) -> float:
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - start)


def main() -> None:
    out = sys.argv[1]
    x, y = data()
    models = {"lr": LogisticRegression(max_iter=1000).fit(x, y),
              "hgb": HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(x, y)}
    result = {}
    for name, model in models.items():
        path = os.path.join(out, name)
        # skops (MLflow 3's default) refuses HistGradientBoosting's TreePredictor unless
        # told to trust it; name exactly that type, as MLflow's error message asks.
        trusted = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"] if name == "hgb" else None
        mlflow.sklearn.save_model(model, path, input_example=x[:5], skops_trusted_types=trusted)
        row, batch = x[:1], x[:1000]
        result[name] = {
            "path": path,
            "single_row_per_s": per_second(lambda m=model, r=row: m.predict(r)),
            "batch_rows_per_s": 1000 * per_second(lambda m=model, b=batch: m.predict(b)),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
