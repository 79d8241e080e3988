"""Authorization of every route: the permission table covers the app, and each role and
grant gets 403 exactly where it should; users, tokens, basic auth and the audit actor."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shipyard import Config
from shipyard.access import ROLES, LoginLimiter, SqlAccessStore, may
from shipyard.server import create_app
from shipyard.server._access import AccessMiddleware
from shipyard.server._permissions import OPEN, PERMISSIONS, _compile, match
from shipyard.server.mlflow import ROUTES
from tests.services import ServerThread

SHARED = "shared-secret-token"
PASSWORD = "correct horse battery"


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves: FastAPI's routes and the MLflow table."""
    found: set[tuple[str, str]] = set()
    for route in app.router.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for ctx in contexts:
            found |= {(m, ctx.path) for m in ctx.methods or ()}
    found |= set(ROUTES._exact)
    by_pattern = {(m, _compile(tpl).pattern): tpl for (m, tpl) in PERMISSIONS}
    for method, pattern, _ in ROUTES._patterns:
        # An MLflow route missing from the table shows up under its regex, and fails below.
        found.add((method, by_pattern.get((method, pattern.pattern), pattern.pattern)))
    return found


def sample(template: str) -> str:
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: "a/b.txt" if m.group(2) else f"x{m.group(1)}", template)


def test_every_route_of_the_app_has_exactly_one_permission_entry(tmp_path: Path) -> None:
    served = app_routes(create_app(Config(home=tmp_path)))
    missing = sorted(r for r in served if r not in PERMISSIONS)
    assert missing == []
    stale = sorted(r for r in PERMISSIONS if r not in served and not r[1].startswith("/docs/assets/"))
    assert stale == []
    for method, template in served:
        found = match(method, sample(template))
        assert found is not None and found[0] == template, (method, template)


@dataclass
class Server:
    http: httpx.Client
    app: FastAPI
    tokens: dict[str, str]
    store: SqlAccessStore
    experiment: str

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[Server]:
    app = create_app(Config(home=tmp_path_factory.mktemp("perm"), token=SHARED))
    for middleware in app.user_middleware:
        if middleware.cls is AccessMiddleware:
            middleware.kwargs.update(limiter=LoginLimiter(slow_after=5, refuse_after=20, window=60, clock=clock),
                                     sleep=clock.sleep)
    thread = ServerThread(app).start()
    with httpx.Client(base_url=thread.url, timeout=30) as http:
        store: SqlAccessStore = app.state.access
        tokens = {}
        for role in ROLES:
            store.create_user(role, role, PASSWORD)
            tokens[role] = store.create_token(role)[1]
        experiment = app.state.tracking.create_experiment("team-a").id
        app.state.tracking.create_experiment("team-b")
        app.state.registry.create_registered_model("churn")
        app.state.registry.create_registered_model("other")
        yield Server(http, app, tokens, store, experiment)
    thread.stop()


def _expected_action(rule: Any) -> str:
    return rule.action if isinstance(rule.action, str) else "edit"  # an unguarded alias, unforced


CASES = sorted((m, tpl) for (m, tpl), rule in PERMISSIONS.items()
               if rule.action != OPEN and not tpl.startswith("/docs/assets/"))


@pytest.mark.parametrize(("method", "template"), CASES, ids=[f"{m} {t}" for m, t in CASES])
def test_each_role_is_refused_exactly_where_its_role_does_not_reach(server: Server, method: str,
                                                                    template: str) -> None:
    action = _expected_action(PERMISSIONS[(method, template)])
    path = sample(template)
    for role in ROLES:
        user = server.store.get_user(role)
        response = server.http.request(method, path, headers=server.as_(role))
        if may(user, action):
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert server.tokens[role] not in response.text
    assert server.http.request(method, path).status_code == 401


def test_the_shared_server_token_still_acts_as_an_admin(server: Server) -> None:
    response = server.http.get("/api/v1/experiments", headers={"Authorization": f"Bearer {SHARED}"})
    assert response.status_code == 200


def test_an_edit_grant_lets_a_viewer_write_to_that_experiment_only(server: Server) -> None:
    server.store.create_user("grantee", "viewer")
    token = server.store.create_token("grantee")[1]
    server.store.grant("grantee", "experiment", server.experiment, "edit")
    headers = {"Authorization": f"Bearer {token}"}
    other = server.app.state.tracking.get_experiment_by_name("team-b").id
    assert server.http.post("/api/v1/runs", json={"experiment_id": server.experiment},
                            headers=headers).status_code == 200
    assert server.http.post("/api/v1/runs", json={"experiment_id": other}, headers=headers).status_code == 403
    mlflow = server.http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": other}, headers=headers)
    assert mlflow.status_code == 403 and mlflow.json()["error_code"] == "PERMISSION_DENIED"
    run_id = server.http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": server.experiment},
                              headers=headers).json()["run"]["info"]["run_id"]
    logged = server.http.post("/api/2.0/mlflow/runs/log-metric", headers=headers,
                              json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0})
    assert logged.status_code == 200, logged.text


def test_a_model_grant_lets_a_viewer_change_that_model_only(server: Server) -> None:
    server.store.create_user("owner", "viewer")
    token = server.store.create_token("owner")[1]
    server.store.grant("owner", "registered_model", "churn", "manage")
    headers = {"Authorization": f"Bearer {token}"}
    assert server.http.patch("/api/v1/registry/models/churn", json={"description": "ours"},
                             headers=headers).status_code == 200
    assert server.http.patch("/api/v1/registry/models/other", json={"description": "x"},
                             headers=headers).status_code == 403
    mlflow = server.http.patch("/api/2.0/mlflow/registered-models/update", headers=headers,
                               json={"name": "other", "description": "x"})
    assert mlflow.status_code == 403


def test_the_audit_log_names_the_authenticated_user_never_the_claimed_actor(server: Server) -> None:
    response = server.http.patch("/api/v1/registry/models/churn", headers=server.as_("editor"),
                                 json={"description": "by editor", "actor": "mallory"})
    assert response.status_code == 200
    history = server.http.get("/api/v1/registry/models/churn/history", headers=server.as_("viewer")).json()
    actors = [e["actor"] for e in history["items"]]
    assert "editor" in actors and "mallory" not in actors
    assert all(server.tokens["editor"] not in str(e) for e in history["items"])


def test_guarded_aliases_and_forcing_need_the_approver_role_and_a_reason(server: Server) -> None:
    registry = server.app.state.registry
    registry.create_registered_model("gated")
    registry.set_policy("gated", {"aliases": ["production"], "rules": []})
    for path in ("/api/v1/registry/models/gated/aliases/production",):
        assert server.http.put(path, json={"version": 1}, headers=server.as_("editor")).status_code == 403
        assert server.http.put(path, json={"version": 1}, headers=server.as_("approver")).status_code == 404
    staging = server.http.put("/api/v1/registry/models/gated/aliases/staging", json={"version": 1},
                              headers=server.as_("editor"))
    assert staging.status_code == 404  # allowed through; the version does not exist
    forced = server.http.put("/api/v1/registry/models/gated/aliases/staging", json={"version": 1, "force": True,
                                                                                  "reason": "hotfix"},
                             headers=server.as_("editor"))
    assert forced.status_code == 403
    no_reason = server.http.put("/api/v1/registry/models/gated/aliases/staging",
                                json={"version": 1, "force": True}, headers=server.as_("approver"))
    assert no_reason.status_code == 400 and no_reason.json()["error"]["field"] == "reason"
    mlflow = server.http.request("DELETE", "/api/2.0/mlflow/registered-models/alias", headers=server.as_("editor"),
                                 json={"name": "gated", "alias": "production"})
    assert mlflow.status_code == 403


def test_a_revoked_token_and_a_disabled_user_are_refused_at_the_next_request(server: Server) -> None:
    server.store.create_user("leaver", "editor")
    record, token = server.store.create_token("leaver")
    _, second = server.store.create_token("leaver")
    headers = {"Authorization": f"Bearer {token}"}
    assert server.http.get("/api/v1/experiments", headers=headers).status_code == 200
    server.store.revoke_token(record.id)
    assert server.http.get("/api/v1/experiments", headers=headers).status_code == 401
    assert server.http.get("/api/v1/experiments", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    server.store.set_disabled("leaver")
    refused = server.http.get("/api/v1/experiments", headers={"Authorization": f"Bearer {second}"})
    assert refused.status_code == 401 and second not in refused.text


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_as_mlflow_clients_send_it(server: Server) -> None:
    wrong = server.http.post("/api/2.0/mlflow/experiments/search", json={}, headers=basic("viewer", "nope!"))
    assert wrong.status_code == 401 and wrong.json()["error_code"] == "UNAUTHENTICATED"
    assert "nope!" not in wrong.text
    ok = server.http.post("/api/2.0/mlflow/experiments/search", json={}, headers=basic("viewer", PASSWORD))
    assert ok.status_code == 200  # and clears this address's failures


def test_a_hundred_wrong_passwords_are_slowed_then_refused_and_the_right_one_works_after(
        server: Server, clock: FakeClock) -> None:
    server.store.create_user("target", "viewer", PASSWORD)
    statuses = [server.http.get("/api/v1/experiments", headers=basic("target", f"guess{i}")).status_code
                for i in range(100)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    assert len(clock.slept) == 15  # attempts 6 to 20 were held back
    refused = server.http.get("/api/v1/experiments", headers=basic("target", PASSWORD))
    assert refused.status_code == 429 and "retry-after" in refused.headers
    clock.now += 61
    assert server.http.get("/api/v1/experiments", headers=basic("target", PASSWORD)).status_code == 200


def test_without_users_or_a_token_the_server_is_open_until_the_first_user(tmp_path: Path) -> None:
    app = create_app(Config(home=tmp_path))
    thread = ServerThread(app).start()
    with httpx.Client(base_url=thread.url) as http:
        assert http.get("/api/v1/experiments").status_code == 200
        app.state.access.create_user("first", "admin")
        time.sleep(2.1)  # the server notices new users within two seconds
        assert http.get("/api/v1/experiments").status_code == 401
    thread.stop()


def _viewer_with_edit_on(server: Server, name: str) -> dict[str, str]:
    server.store.create_user(name, "viewer")
    server.store.grant(name, "experiment", server.experiment, "edit")
    return {"Authorization": f"Bearer {server.store.create_token(name)[1]}"}


def _team_b(server: Server) -> str:
    return str(server.app.state.tracking.get_experiment_by_name("team-b").id)


def test_an_edit_grant_lets_a_viewer_log_batches_to_that_experiments_runs_only(server: Server) -> None:
    headers = _viewer_with_edit_on(server, "batcher")
    tracking = server.app.state.tracking
    mine = tracking.create_run(server.experiment).id
    theirs = tracking.create_run(_team_b(server)).id
    ok = server.http.post("/api/v1/runs/log-batch", headers=headers,
                          json={"metrics": [[mine, "loss", 0.5, 1, 0]], "params": [[mine, "lr", "0.1"]]})
    assert ok.status_code == 200, ok.text
    refused = server.http.post("/api/v1/runs/log-batch", headers=headers,
                               json={"metrics": [[theirs, "loss", 0.5, 1, 0]]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "PermissionDenied"
    mixed = server.http.post("/api/v1/runs/log-batch", headers=headers,
                             json={"metrics": [[mine, "loss", 0.7, 2, 1]], "tags": [[theirs, "t", "x"]]})
    assert mixed.status_code == 403
    assert [m.value for m in tracking.get_metric_history(mine, "loss").items] == [0.5]
    assert "t" not in tracking.get_run(theirs).tags


def test_an_edit_grant_lets_a_viewer_record_runs_into_that_experiment_only(server: Server) -> None:
    headers = _viewer_with_edit_on(server, "recorder")
    ok = server.http.post("/api/v1/runs/record", headers=headers,
                          json={"runs": [{"experiment_id": server.experiment, "name": "mine"}]})
    assert ok.status_code == 200, ok.text
    for runs in ([{"experiment_id": _team_b(server), "name": "theirs"}],
                 [{"experiment_id": server.experiment}, {"experiment_id": _team_b(server)}]):
        refused = server.http.post("/api/v1/runs/record", headers=headers, json={"runs": runs})
        assert refused.status_code == 403, refused.text
    assert [r.name for r in server.app.state.tracking.search_runs([_team_b(server)]).items
            if r.name == "theirs"] == []


def test_logged_model_changes_check_the_grant_on_the_models_experiment(server: Server) -> None:
    headers = _viewer_with_edit_on(server, "modeller")
    admin = server.as_("admin")
    create = "/api/2.0/mlflow/logged-models"
    mine = server.http.post(create, headers=headers, json={"experiment_id": server.experiment, "name": "m"})
    assert mine.status_code == 200, mine.text
    theirs = server.http.post(create, headers=admin, json={"experiment_id": _team_b(server), "name": "t"})
    mine_id, theirs_id = (r.json()["model"]["info"]["model_id"] for r in (mine, theirs))
    params = {"params": [{"key": "lr", "value": "0.1"}]}
    assert server.http.post(f"{create}/{mine_id}/params", headers=headers, json=params).status_code == 200
    refused = server.http.post(f"{create}/{theirs_id}/params", headers=headers, json=params)
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert server.http.patch(f"{create}/{theirs_id}/tags", headers=headers,
                             json={"tags": [{"key": "k", "value": "v"}]}).status_code == 403
    assert server.http.delete(f"{create}/{mine_id}", headers=headers).status_code == 403  # edit, not manage


def test_an_insecure_open_server_says_so_on_every_health_check(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Config(home=tmp_path), insecure=True)
    thread = ServerThread(app).start()
    try:
        with httpx.Client(base_url=thread.url) as http, caplog.at_level("WARNING", logger="shipyard.server"):
            caplog.clear()  # the warning logged at start is not a health check's
            for _ in range(2):
                response = http.get("/api/v1/health")
                assert response.status_code == 200 and response.headers["x-shipyard-insecure"] == "true"
            warnings = [r for r in caplog.records if "--insecure" in r.getMessage()]
            assert len(warnings) == 2
    finally:
        thread.stop()


def test_a_server_started_insecure_logs_a_warning_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="shipyard.server"):
        for app in (create_app(Config(home=tmp_path / "open"), insecure=True),
                    create_app(Config(home=tmp_path / "guarded", token=SHARED), insecure=True),
                    create_app(Config(home=tmp_path / "plain"))):
            ServerThread(app).start().stop()  # no request at all: the warning is the start's
    warnings = [r.getMessage() for r in caplog.records if r.name == "shipyard.server"]
    assert warnings == ["WARNING: --insecure: this server accepts unauthenticated requests from the network",
                        "WARNING: --insecure has no effect: authentication is on (users or SHIPYARD_TOKEN)"]


def test_health_carries_no_insecure_mark_without_the_flag_or_once_auth_is_on(tmp_path: Path) -> None:
    plain = ServerThread(create_app(Config(home=tmp_path / "a"))).start()
    guarded = ServerThread(create_app(Config(home=tmp_path / "b", token=SHARED), insecure=True)).start()
    try:
        for thread in (plain, guarded):
            with httpx.Client(base_url=thread.url) as http:
                response = http.get("/api/v1/health")
                assert response.status_code == 200 and "x-shipyard-insecure" not in response.headers
    finally:
        plain.stop()
        guarded.stop()


def test_a_refusal_names_the_user_role_action_resource_and_the_role_needed(server: Server) -> None:
    created = server.http.post("/api/v1/experiments", json={"name": "nope"}, headers=server.as_("viewer"))
    assert created.status_code == 403
    assert created.json()["error"] == {
        "code": "PermissionDenied",
        "message": "user 'viewer' (viewer) may not edit on this server: POST /api/v1/experiments needs "
                   "the editor role"}
    team_b = _team_b(server)
    run = server.http.post("/api/v1/runs", json={"experiment_id": team_b}, headers=server.as_("viewer"))
    assert run.json()["error"]["message"] == (
        f"user 'viewer' (viewer) may not edit experiment 'team-b' (id {team_b}): POST /api/v1/runs needs "
        "the editor role, or an edit grant on that experiment")
    policy = server.http.put("/api/v1/registry/models/churn/policy", json={}, headers=server.as_("editor"))
    assert policy.status_code == 403
    assert "may not approve" in policy.json()["error"]["message"]
    assert "needs the approver role" in policy.json()["error"]["message"]
    mlflow = server.http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": team_b},
                              headers=server.as_("viewer"))
    assert mlflow.json() == {"error_code": "PERMISSION_DENIED", "message": run.json()["error"]["message"].replace(
        "POST /api/v1/runs", "POST /api/2.0/mlflow/runs/create")}


def test_a_refused_client_raises_permission_denied_with_the_servers_message(server: Server, tmp_path: Path) -> None:
    from shipyard.client import Client
    from shipyard.errors import PermissionDenied

    config = Config(home=tmp_path, url=str(server.http.base_url), token=server.tokens["viewer"], retries=1)
    with Client(config) as client, pytest.raises(PermissionDenied, match=r"may not edit on this server: "
                                                                      r"POST /api/v1/experiments needs the editor"):
        client.create_experiment("refused")
