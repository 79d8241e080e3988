"""Fixtures the registry, dataset and lineage page tests share: one real server with users of
each role, a registered model under a promotion policy, a dataset with two versions, and a
lineage chain dataset → run → model version → deployment → monitor. Values that hold
markup (a description, a tag, a column name, a node id) check that pages show them as text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from shipyard import Config
from shipyard.datasets import register_version
from shipyard.lineage import Edge, Node
from shipyard.server import create_app
from shipyard.testing.registry import fake_package_run
from shipyard.tracking import now_ms
from tests.services import ServerThread

HOSTILE = "<img src=x onerror=alert(1)>"
PASSWORD = "correct horse battery"
MODEL = "churn"
DATASET = "customers"
FILES = "documents"  # a dataset of opaque files: no profile, no contract
DEPLOYMENT = "churn-prod"
MONITOR = f"drift {HOSTILE}"
EXTRA_MODELS = 27  # with the model above, more than one page of the models list (25)
POLICY = {"aliases": ["production"], "rules": [
    {"type": "min_metric", "metric": "auc", "threshold": 0.8},
    {"type": "beats_holder", "metric": "auc", "min_delta": 0.01}]}


@dataclass
class Catalog:
    """The server and what was put in it."""

    url: str
    app: Any
    runs: dict[str, str]
    shots: Path
    tokens: dict[str, str]  # a bearer token per user, for checks beside the browser (no password hashing)
    sessions: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # a user's session cookies

    def api(self, user: str) -> httpx.Client:
        """The REST API as ``user``."""
        return httpx.Client(base_url=self.url + "/api/v1", headers={"Authorization": f"Bearer {self.tokens[user]}"},
                            timeout=30)

    def sign_in(self, page: Any, user: str) -> None:
        """Give the page's browser context a session of ``user``, as the sign-in form would. Each
        user signs in once (a password check is slow on purpose); later tabs reuse the cookies."""
        if user not in self.sessions:
            answer = httpx.post(self.url + "/login/password", json={"username": user, "password": PASSWORD}, timeout=30)
            assert answer.status_code == 200, answer.text
            cookies = answer.cookies.items()
            self.sessions[user] = [{"name": name, "value": value, "url": self.url} for name, value in cookies]
        page.context.add_cookies(self.sessions[user])


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    first = pd.DataFrame({"age": [23, 35, 41, 52, 29, 61, 38, 47] * 4,
                          "plan": ["basic", "pro", "basic", "basic", "pro", "team", "basic", "pro"] * 4,
                          HOSTILE: [HOSTILE, "plain"] * 16})
    second = first.copy()
    second["age"] = [float(a) * 1.6 for a in first["age"]]
    second.loc[:7, "age"] = None  # a quarter missing
    second["plan"] = ["basic", "pro", "enterprise", "pro"] * 8
    return first, second


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    app = create_app(Config(home=tmp_path_factory.mktemp("catalog")))
    thread = ServerThread(app).start()
    try:
        access, registry, tracking, datasets = (app.state.access, app.state.registry, app.state.tracking,
                                                app.state.datasets)
        tokens = {}
        for user, role in (("vera", "viewer"), ("eddie", "editor"), ("april", "approver")):
            access.create_user(user, role, PASSWORD)
            tokens[user] = access.create_token(user)[1]
        runs = {f"v{i}": fake_package_run(tracking, {"auc": auc}) for i, auc in ((1, 0.82), (2, 0.86), (3, 0.70))}
        registry.create_registered_model(MODEL, description=f"Predicts churn {HOSTILE}",
                                         tags={"intended_use": f"Ranking accounts {HOSTILE}"})
        for key in ("v1", "v2", "v3"):
            registry.create_model_version(MODEL, f"runs:/{runs[key]}/model")
        registry.set_policy(MODEL, POLICY)
        registry.set_alias(MODEL, "production", 1, "april", "first release")
        registry.set_alias(MODEL, "staging", 1, "eddie", HOSTILE)
        for i in range(EXTRA_MODELS):
            registry.create_registered_model(f"model-{i:02d}")

        first, second = _tables()
        register_version(datasets, DATASET, first, description="the first export")
        register_version(datasets, DATASET, second, description=HOSTILE)
        datasets.record_lineage(runs["v2"], DATASET, 2, "input")  # v2's run trained on it
        documents = tmp_path_factory.mktemp("documents")
        (documents / "notes.bin").write_bytes(b"\x00not a table\x01")
        register_version(datasets, FILES, documents)
        registry.lineage_store.add([
            Edge(Node("model_version", f"{MODEL}/2"), "deployed", Node("deployment", DEPLOYMENT)),
            Edge(Node("deployment", DEPLOYMENT), "monitored", Node("monitor", MONITOR)),
        ], now_ms())
        yield Catalog(thread.url, app, runs, tmp_path_factory.mktemp("screenshots"), tokens)
    finally:
        thread.stop()
