"""A small continuous-training world: a real pipeline training scikit-learn, a champion, data.

:func:`make_ct_world` writes training and holdout data where the label depends on two
features, runs the pipeline :data:`PIPELINE` once with one feature (the weak champion,
``churn`` version 1, at ``@production``), and registers the holdout dataset. A policy
(:func:`ct_policy`) retrains with both features, so the challenger beats the champion.
:class:`Served` writes the live traffic a canary is judged by.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard import Client
from shipyard.alerting import AlertEvent
from shipyard.serving import InferenceLogConfig
from shipyard.serving._inference_log import Entry, InferenceLog, RunSink
from shipyard.timeutil import now_ms

PIPELINE = '''
import json
import os
import time
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipyard.pipelines import pipeline, step


@step
def load(train_csv: str, training_window_end: int, labelled_data: str | None, seen: str) -> pd.DataFrame:
    if seen:  # what the controller passed, for the test to read
        with open(seen, "a") as out:
            out.write(json.dumps({"training_window_end": training_window_end, "labelled_data": labelled_data}) + "\\n")
    slow = Path(os.environ.get("CT_SLOW_FILE") or "-")
    if slow.is_file():  # a test's way to make this step hang
        time.sleep(float(slow.read_text() or 30))
    return pd.read_csv(train_csv)


@step(register_model="churn")
def fit(frame: pd.DataFrame, features: list, c: float) -> LogisticRegression:
    return LogisticRegression(C=c).fit(frame[features], frame["label"])


@pipeline
def train_churn(train_csv: str = "", features: list = ["x1"], c: float = 1.0, training_window_end: int = 0,
                labelled_data: str | None = None, seen: str = ""):
    return fit(load(train_csv, training_window_end, labelled_data, seen), features, c)
'''


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = (x1 + 2 * x2 + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "label": label})


def make_ct_world(client: Client, folder: Path) -> None:
    """Data, the pipeline (run once: the champion, version 1 at @production) and the holdout."""
    from shipyard.pipelines._loader import load_pipeline

    frame(600, 1).to_csv(folder / "train.csv", index=False)
    client.register_dataset("churn-holdout", frame(400, 2))
    (folder / "train_churn.py").write_text(PIPELINE)
    load_pipeline(str(folder / "train_churn.py")).run({"train_csv": str(folder / "train.csv")}, client=client,
                                                      executor="inline")
    client.set_alias("churn", "production", 1)


def ct_policy(folder: Path, **changes: Any) -> dict[str, Any]:
    """A policy retraining ``churn`` with both features, judged on the holdout."""
    base: dict[str, Any] = {
        "name": "churn-ct", "model": "churn",
        "triggers": [{"type": "manual"}, {"type": "dataset", "dataset": "churn-holdout"}],
        "retrain": {"pipeline": "train_churn", "params": {
            "train_csv": str(folder / "train.csv"), "features": ["x1", "x2"], "seen": str(folder / "seen.jsonl")}},
        "evaluation": {"metrics": ["accuracy", "auc"], "data": "churn-holdout@latest", "bootstrap_samples": 200},
        "rollout": {"shadow": {"requests": 0}, "canary": {"percent": 20, "duration": "1m"}},
        "guards": {"cooldown": "1s", "max_retrains_per_day": 50},
    }
    return copy.deepcopy({**base, **changes})


class Served:
    """Requests as ``shipyard serve`` logs them (its own log writer, to the client's store), and
    their late labels: what the rollout driver judges a shadow or canary by."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._n = 0

    def requests(self, version: int, n: int, *, route: str, accuracy: float, seed: int) -> None:
        """``n`` one-row requests answered by ``version`` on ``route``, labelled so that a share
        ``accuracy`` of the answers are right."""
        rng = np.random.default_rng(seed)
        log = InferenceLog(InferenceLogConfig(flush_interval_s=60), RunSink(self.client, run_name="serving-test"))
        log.start()
        labels = []
        at = now_ms()
        for i in range(n):
            self._n += 1
            request = f"req-{self._n}"
            x = float(i % 2)
            log.record(Entry(at, request, "churn", str(version), route, 4.0, 200, 1, np.array([[x, -x]]),
                             {"predict": np.array([int(x)])}, ("x1", "x2"), None))
            labels.append((request, int(x) if rng.random() < accuracy else 1 - int(x)))
        log.close()
        self.client.log_labels(pd.DataFrame(labels, columns=["request_id", "label"]), model="churn")


class Heard:
    """A notifier that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[AlertEvent] = []

    def notify(self, event: AlertEvent) -> None:
        self.events.append(event)

    @property
    def moves(self) -> list[tuple[str, str]]:
        return [(e.labels["from_state"], e.labels["to_state"]) for e in self.events]
