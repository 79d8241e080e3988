"""``/api/v1/automation`` on a real server with authentication on: roles, the audit actor, pages,
errors that name the field or the state, the remote store, and a labelled export through it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI

from shipyard import Client, Config
from shipyard.access import ROLES
from shipyard.automation import AutomationPolicy, SqlAutomationStore
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.server import create_app
from shipyard.serving import InferenceLogConfig
from shipyard.serving._inference_log import Entry, InferenceLog, RunSink
from shipyard.timeutil import now_ms
from tests.automation.conftest import POLICY, make_world, policy
from tests.services import ServerThread

API = "/api/v1/automation"


@dataclass
class Live:
    url: str
    app: FastAPI
    tokens: dict[str, str]
    home: Path

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def client(self, role: str) -> Client:
        return Client(Config(home=self.home / f"client-{role}", url=self.url, token=self.tokens[role]))

    @property
    def store(self) -> SqlAutomationStore:
        store: SqlAutomationStore = self.app.state.automation
        return store


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("automation-api")
    with Client(Config(home=home / "server")) as client:
        make_world(client, home)
    app = create_app(Config(home=home / "server"))
    thread = ServerThread(app).start()
    try:
        tokens = {}
        for role in ROLES:
            app.state.access.create_user(role, role)
            tokens[role] = app.state.access.create_token(role)[1]
        yield Live(thread.url, app, tokens, home)
    finally:
        thread.stop()


@pytest.fixture
def http(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def schema(live: Live) -> Any:
    import schemathesis

    return schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json", timeout=30)


def awaiting(live: Live, name: str = "churn-retrain", resume: str = "shadow") -> str:
    run = live.store.create_run(name)
    for state in ("retraining", "evaluating", "gated"):
        live.store.transition(run.id, state)
    live.store.transition(run.id, "awaiting_approval", resume_state=resume)
    return run.id


def test_an_editor_applies_and_the_audit_names_them_whatever_the_body_claims(live: Live, http: httpx.Client) -> None:
    claimed = http.post(f"{API}/policies", json={**POLICY, "actor": "mallory"}, headers=live.headers("editor"))
    assert claimed.status_code == 422 and claimed.json()["error"]["field"] == "actor"
    with live.client("editor") as editor:
        applied = editor.automation.apply_policy(POLICY)
        assert applied.changed and applied.policy.actor == "editor"
        assert not editor.automation.apply_policy(POLICY).changed
        entries = editor.automation.policy_audit("churn-retrain")
    assert [(e.action, e.actor) for e in entries] == [("apply_policy", "editor")]
    viewer = http.post(f"{API}/policies", json=POLICY, headers=live.headers("viewer"))
    assert viewer.status_code == 403


def test_reads_answer_what_the_document_declares(live: Live, http: httpx.Client) -> None:
    live.store.apply(AutomationPolicy.from_json(POLICY))
    run_id = awaiting(live)
    contract = schema(live)
    calls = [
        ("POST", f"{API}/policies", f"{API}/policies", {"json": POLICY}),
        ("GET", f"{API}/policies", f"{API}/policies", {}),
        ("GET", f"{API}/policies/{{name}}", f"{API}/policies/churn-retrain", {"params": {"version": 1}}),
        ("GET", f"{API}/policies/{{name}}/versions", f"{API}/policies/churn-retrain/versions", {}),
        ("GET", f"{API}/policies/{{name}}/audit", f"{API}/policies/churn-retrain/audit", {}),
        ("GET", f"{API}/runs", f"{API}/runs", {"params": {"policy": "churn-retrain"}}),
        ("GET", f"{API}/runs/{{run_id}}", f"{API}/runs/{run_id}", {}),
        ("POST", f"{API}/runs/{{run_id}}/approve", f"{API}/runs/{run_id}/approve", {"json": {"reason": "ok"}}),
        ("POST", f"{API}/runs/{{run_id}}/reject", f"{API}/runs/{awaiting(live)}/reject", {"json": {"reason": "no"}}),
        ("POST", f"{API}/exports", f"{API}/exports", {"json": {"dataset": "churn-holdout", "version": 1,
                                                              "model_versions": [{"name": "churn", "version": 1}],
                                                              "monitors": ["churn-monitor"]}}),
    ]
    for method, template, path, kwargs in calls:
        response = http.request(method, path, headers=live.headers("approver"), **kwargs)
        assert response.status_code == 200, (method, path, response.text)
        contract[template][method].validate_response(response)


def test_lists_come_in_pages(live: Live, http: httpx.Client) -> None:
    for name in ("page-a", "page-b", "page-c"):
        live.store.apply(AutomationPolicy.from_json(policy(name=name)))
    ids = [live.store.create_run("page-b").id for _ in range(3)]
    seen: list[str] = []
    params: dict[str, Any] = {"max_results": 2}
    while True:
        page = http.get(f"{API}/policies", params=params, headers=live.headers("viewer")).json()
        seen += [p["name"] for p in page["items"]]
        if "next_page_token" not in page:
            break
        params["page_token"] = page["next_page_token"]
    assert [n for n in seen if n.startswith("page-")] == ["page-a", "page-b", "page-c"] and seen == sorted(seen)
    first = http.get(f"{API}/runs", params={"policy": "page-b", "max_results": 2}, headers=live.headers("viewer"))
    body = first.json()
    rest = http.get(f"{API}/runs", params={"policy": "page-b", "max_results": 2,
                                           "page_token": body["next_page_token"]}, headers=live.headers("viewer"))
    assert [r["id"] for r in body["items"] + rest.json()["items"]] == ids[::-1]
    assert "next_page_token" not in rest.json()
    with live.client("viewer") as viewer:
        assert [r.id for r in viewer.automation.list_runs("page-b")] == ids[::-1]
        assert {"page-a", "page-b", "page-c"} <= {p.name for p in viewer.automation.list_policies()}


def test_approving_needs_the_approver_role_and_a_run_that_awaits_it(live: Live, http: httpx.Client) -> None:
    live.store.apply(AutomationPolicy.from_json(POLICY))
    run_id = awaiting(live, resume="canary")
    editor = http.post(f"{API}/runs/{run_id}/approve", json={"reason": "ok"}, headers=live.headers("editor"))
    assert editor.status_code == 403
    with live.client("approver") as approver:
        run = approver.automation.approve_run(run_id, "canary first")
        assert run.state == "canary" and approver.automation.get_run(run_id).reason == "canary first"
        with pytest.raises(Conflict) as info:
            approver.automation.reject_run(run_id, "too late")
        assert info.value.state == "canary"  # type: ignore[attr-defined]
        entry = approver.automation.policy_audit("churn-retrain")[0]
        assert (entry.action, entry.actor, entry.reason) == ("approve", "approver", "canary first")
        with pytest.raises(NotFound):
            approver.automation.get_run("0" * 32)
    empty = http.post(f"{API}/runs/{run_id}/reject", json={"reason": ""}, headers=live.headers("approver"))
    assert empty.status_code == 422


def test_refusals_name_the_field_over_the_wire(live: Live) -> None:
    with live.client("editor") as editor:
        with pytest.raises(NotFound) as missing:
            editor.automation.apply_policy(policy(name="refused", retrain={"pipeline": "train_fraud"}))
        assert missing.value.field == "retrain.pipeline"  # type: ignore[attr-defined]
        with pytest.raises(NotFound):
            editor.automation.get_policy("refused")  # nothing was stored
    response = httpx.post(f"{live.url}{API}/policies", headers=live.headers("editor"),
                          json=policy(name="refused", rollout={"canary": {"percent": 150}}))
    assert response.status_code == 422 and response.json()["error"]["field"] == "rollout.canary.percent"
    malformed = httpx.post(f"{live.url}{API}/policies", headers=live.headers("editor"), json=["not", "a", "policy"])
    assert malformed.status_code == 422
    with pytest.raises(InvalidInput) as state, live.client("viewer") as viewer:
        viewer.automation.list_runs(state="flying")
    assert state.value.field == "state"  # type: ignore[attr-defined]


def test_a_remote_client_exports_labelled_answers_with_their_lineage(live: Live) -> None:
    with live.client("editor") as editor:
        log = InferenceLog(InferenceLogConfig(flush_interval_s=60), RunSink(editor, run_name="serving-remote"))
        for i in range(3):
            log.record(Entry(now_ms(), f"w{i}", "churn", "1", "production", 2.0, 200, 1,
                             pd.DataFrame({"age": [30.0 + i]}), {"predict": np.asarray([1])}, None, None))
        log.close()
        editor.log_labels(pd.DataFrame({"request_id": ["w0", "w2"], "label": [1, 0]}), model="churn")
        done = editor.automation.export_labelled("churn@production", since="1h", to="ds:remote-labelled")
        assert (done.ref, done.rows) == ("remote-labelled@1", 2)
        into = {str(e.src) for e in editor.dataset_lineage(done.ref).upstream if str(e.dst) == f"dataset:{done.ref}"}
    assert into == {"model_version:churn/1", "monitor:churn-monitor"}
