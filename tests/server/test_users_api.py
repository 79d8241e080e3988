"""Users, roles, grants and tokens over ``/api/v1``: admins manage users; everyone manages their
own tokens and nobody else's; lists are pages after a cursor; every answer is one the OpenAPI
document declares; bad input is a 4xx naming the field, and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shipyard import Config
from shipyard.access import SqlAccessStore
from shipyard.server import create_app
from tests.services import ServerThread

PASSWORD = "correct horse battery"


@dataclass
class Api:
    http: httpx.Client
    store: SqlAccessStore
    admin: dict[str, str]
    viewer: dict[str, str]
    experiment: str
    app: FastAPI


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    app = create_app(Config(home=tmp_path_factory.mktemp("users")))
    thread = ServerThread(app).start()
    with httpx.Client(base_url=thread.url, timeout=30) as http:
        store: SqlAccessStore = app.state.access
        store.create_user("root", "admin")
        store.create_user("vic", "viewer")
        experiment = app.state.tracking.create_experiment("team-a").id
        app.state.registry.create_registered_model("churn")
        yield Api(http, store, bearer(store.create_token("root")[1]), bearer(store.create_token("vic")[1]),
                  experiment, app)
    thread.stop()


def test_an_admin_creates_lists_and_changes_users(api: Api) -> None:
    created = api.http.post("/api/v1/users", headers=api.admin,
                            json={"name": "ana", "role": "editor", "password": PASSWORD})
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "ana", "role": "editor", "disabled": False,
                              "created_at": created.json()["created_at"], "grants": []}
    assert PASSWORD not in created.text
    names = [u["name"] for u in api.http.get("/api/v1/users", headers=api.admin).json()["items"]]
    assert "ana" in names and "root" in names
    role = api.http.put("/api/v1/users/ana/role", headers=api.admin, json={"role": "approver"})
    assert role.status_code == 200 and role.json()["role"] == "approver"
    grant = api.http.post("/api/v1/users/ana/grants", headers=api.admin,
                          json={"resource_type": "experiment", "resource_id": api.experiment, "permission": "manage"})
    assert grant.status_code == 201, grant.text
    assert api.store.get_user("ana").grants[0].permission == "manage"
    assert api.http.post("/api/v1/users/ana/disable", headers=api.admin).json()["disabled"] is True
    assert api.store.get_user("ana").disabled
    assert api.http.post("/api/v1/users/ana/enable", headers=api.admin).json()["disabled"] is False


def test_me_answers_who_the_request_acts_as(api: Api) -> None:
    me = api.http.get("/api/v1/me", headers=api.viewer)
    assert me.status_code == 200, me.text
    assert (me.json()["name"], me.json()["role"]) == ("vic", "viewer")
    assert api.http.get("/api/v1/me", headers=api.admin).json()["role"] == "admin"
    assert api.http.get("/api/v1/me").status_code == 401


def test_a_disabled_user_is_refused_at_the_next_request(api: Api) -> None:
    api.store.create_user("gone", "editor")
    headers = bearer(api.store.create_token("gone")[1])
    assert api.http.get("/api/v1/tokens", headers=headers).status_code == 200
    assert api.http.post("/api/v1/users/gone/disable", headers=api.admin).status_code == 200
    assert api.http.get("/api/v1/tokens", headers=headers).status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"name": "sneaky", "role": "admin"}),
    ("POST", "/api/v1/users/vic/disable", None),
    ("PUT", "/api/v1/users/vic/role", {"role": "admin"}),
    ("POST", "/api/v1/users/vic/grants", {"resource_type": "experiment", "resource_id": "1", "permission": "manage"}),
])
def test_users_are_for_admins_only(api: Api, method: str, path: str, body: dict[str, str] | None) -> None:
    response = api.http.request(method, path, headers=api.viewer, json=body)
    assert response.status_code == 403 and response.json()["error"]["code"] == "PermissionDenied"
    vic = api.store.get_user("vic")
    assert (vic.role, vic.disabled, vic.grants) == ("viewer", False, ())
    assert "sneaky" not in [u.name for u in api.store.list_users()]


@pytest.mark.parametrize(("body", "field", "status"), [
    ({"name": "<script>alert(1)</script>"}, "name", 422),
    ({"name": "x" * 10_000}, "name", 422),
    ({"name": "bob", "role": "overlord"}, "role", 422),
    ({"name": "bob", "password": "short"}, "password", 422),
    ({"name": 7}, "name", 422),
    ({"name": "bob", "colour": "red"}, "colour", 422),
    ({"name": "root"}, None, 409),
])
def test_bad_user_input_is_a_4xx_naming_the_field_and_stores_nothing(api: Api, body: dict[str, object],
                                                                     field: str | None, status: int) -> None:
    before = api.store.list_users()
    response = api.http.post("/api/v1/users", headers=api.admin, json=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["error"]["field"] == field
    assert api.store.list_users() == before


def test_a_grant_on_a_missing_experiment_or_a_bad_permission_names_the_field(api: Api) -> None:
    for resource_type, resource_id in [("experiment", "999"), ("experiment", "9" * 40), ("experiment", "<b>1</b>"),
                                       ("registered_model", "nope")]:
        missing = api.http.post("/api/v1/users/vic/grants", headers=api.admin,
                                json={"resource_type": resource_type, "resource_id": resource_id, "permission": "edit"})
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"]["field"] == "resource_id"
    bad = api.http.post("/api/v1/users/vic/grants", headers=api.admin,
                        json={"resource_type": "experiment", "resource_id": api.experiment, "permission": "own"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "permission"
    assert api.http.put("/api/v1/users/nobody/role", headers=api.admin, json={"role": "viewer"}).status_code == 404
    assert api.store.get_user("vic").grants == ()


def test_a_user_creates_lists_and_revokes_their_own_tokens(api: Api) -> None:
    created = api.http.post("/api/v1/tokens", headers=api.viewer, json={"name": "laptop"})
    assert created.status_code == 201, created.text
    token, token_id = created.json()["token"], created.json()["id"]
    assert created.json()["user"] == "vic"
    listed = api.http.get("/api/v1/tokens", headers=api.viewer).json()["items"]
    assert {t["user"] for t in listed} == {"vic"} and token_id in [t["id"] for t in listed]
    assert token not in str(listed)
    assert api.http.get("/api/v1/experiments", headers=bearer(token)).status_code == 200
    assert api.http.delete(f"/api/v1/tokens/{token_id}", headers=api.viewer).status_code == 200
    assert api.http.get("/api/v1/experiments", headers=bearer(token)).status_code == 401


def test_a_user_may_not_touch_another_users_tokens(api: Api) -> None:
    others = api.http.post("/api/v1/tokens", headers=api.viewer, json={"user": "root"})
    assert others.status_code == 403 and others.json()["error"]["field"] == "user"
    assert api.http.get("/api/v1/tokens?user=root", headers=api.viewer).status_code == 403
    root_token = api.store.list_tokens("root")[0]
    refused = api.http.delete(f"/api/v1/tokens/{root_token.id}", headers=api.viewer)
    assert refused.status_code == 404
    assert not api.store.list_tokens("root")[0].revoked


def test_an_admin_manages_anyones_tokens(api: Api) -> None:
    created = api.http.post("/api/v1/tokens", headers=api.admin, json={"user": "vic", "expires_in_ms": 60_000})
    assert created.status_code == 201 and created.json()["expires_at"] is not None
    assert created.json()["id"] in [t["id"] for t in
                                    api.http.get("/api/v1/tokens?user=vic", headers=api.admin).json()["items"]]
    revoked = api.http.delete(f"/api/v1/tokens/{created.json()['id']}", headers=api.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    bad = api.http.post("/api/v1/tokens", headers=api.admin, json={"user": "vic", "expires_in_ms": -5})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "expires_in_ms"
    assert api.http.post("/api/v1/tokens", headers=api.admin, json={"user": "nobody"}).status_code == 404


def test_an_open_server_answers_as_for_an_admin_but_needs_a_named_token_owner(tmp_path: Path) -> None:
    app = create_app(Config(home=tmp_path))
    thread = ServerThread(app).start()
    try:
        with httpx.Client(base_url=thread.url) as http:
            assert http.get("/api/v1/users").json() == {"items": []}
            nameless = http.post("/api/v1/tokens", json={})
            assert nameless.status_code == 422 and nameless.json()["error"]["field"] == "user"
    finally:
        thread.stop()


def test_the_remote_store_manages_users_and_tokens_through_the_api(api: Api) -> None:
    from shipyard.remote._access import RemoteAccessStore

    admin = RemoteAccessStore(str(api.http.base_url), api.admin["Authorization"].removeprefix("Bearer "))
    try:
        assert admin.create_user("remy", "editor").role == "editor"
        assert admin.set_role("remy", "viewer").role == "viewer"
        assert admin.grant("remy", "experiment", api.experiment, "edit").permission == "edit"
        assert admin.get_user("remy").grants[0].resource_id == api.experiment
        assert admin.set_disabled("remy").disabled and not admin.set_disabled("remy", False).disabled
        record, secret = admin.create_token("remy", "ci")
        assert api.store.user_for_token(secret) is not None
        assert record.id in [t.id for t in admin.list_tokens("remy")]
        assert admin.revoke_token(record.id).revoked and api.store.user_for_token(secret) is None
        assert "remy" in [u.name for u in admin.list_users()]
    finally:
        admin.close()


def test_the_cli_manages_a_remote_servers_users_and_a_users_own_tokens(api: Api, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from shipyard.cli.main import app

    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path))
    monkeypatch.setenv("SHIPYARD_URL", str(api.http.base_url))
    monkeypatch.setenv("SHIPYARD_TOKEN", api.admin["Authorization"].removeprefix("Bearer "))
    runner = CliRunner()
    created = runner.invoke(app, ["users", "create", "clio", "--role", "viewer"])
    assert created.exit_code == 0, created.output
    assert "clio" in [u.name for u in api.store.list_users()]
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert "clio" in [u["name"] for u in json.loads(listed.stdout)["items"]]
    monkeypatch.setenv("SHIPYARD_TOKEN", api.viewer["Authorization"].removeprefix("Bearer "))
    own = runner.invoke(app, ["tokens", "create", "vic", "--name", "cli"])
    assert own.exit_code == 0, own.output
    owner = api.store.user_for_token(own.stdout.splitlines()[0])
    assert owner is not None and owner.name == "vic"
    refused = runner.invoke(app, ["users", "disable", "clio"])
    assert refused.exit_code != 0 and not api.store.get_user("clio").disabled


def test_an_admin_lists_and_revokes_a_users_grants(api: Api) -> None:
    api.store.create_user("gia", "viewer")
    api.store.grant("gia", "experiment", api.experiment, "edit")
    api.store.grant("gia", "registered_model", "churn", "read")
    first = api.http.get("/api/v1/users/gia/grants", headers=api.admin, params={"max_results": 1}).json()
    assert [g["resource_type"] for g in first["items"]] == ["experiment"] and first["next_page_token"]
    rest = api.http.get("/api/v1/users/gia/grants", headers=api.admin,
                        params={"max_results": 1, "page_token": first["next_page_token"]}).json()
    assert rest == {"items": [{"user": "gia", "resource_type": "registered_model", "resource_id": "churn",
                               "permission": "read"}]}
    revoked = api.http.delete(f"/api/v1/users/gia/grants/experiment/{api.experiment}", headers=api.admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"user": "gia", "resource_type": "experiment", "resource_id": api.experiment,
                              "permission": "edit"}
    assert [g.resource_type for g in api.store.get_user("gia").grants] == ["registered_model"]
    again = api.http.delete(f"/api/v1/users/gia/grants/experiment/{api.experiment}", headers=api.admin)
    assert again.status_code == 404 and again.json()["error"]["field"] == "resource_id"
    bad = api.http.delete("/api/v1/users/gia/grants/dataset/churn", headers=api.admin)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "resource_type"
    assert api.http.delete("/api/v1/users/nobody/grants/registered_model/churn", headers=api.admin).status_code == 404
    assert len(api.store.get_user("gia").grants) == 1


def test_manage_on_a_resource_allows_revoking_grants_on_it_and_nowhere_else(api: Api) -> None:
    api.store.create_user("oli", "viewer")
    api.store.create_user("pat", "viewer")
    api.store.grant("oli", "registered_model", "churn", "manage")
    api.store.grant("pat", "registered_model", "churn", "edit")
    api.store.grant("pat", "experiment", api.experiment, "edit")
    oli = bearer(api.store.create_token("oli")[1])
    for headers in (api.viewer, oli):
        refused = api.http.delete(f"/api/v1/users/pat/grants/experiment/{api.experiment}", headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "PermissionDenied"
    assert api.http.delete("/api/v1/users/pat/grants/registered_model/churn", headers=api.viewer).status_code == 403
    assert api.http.get("/api/v1/users/pat/grants", headers=oli).status_code == 403  # listing is for admins
    assert len(api.store.get_user("pat").grants) == 2
    assert api.http.delete("/api/v1/users/pat/grants/registered_model/churn", headers=oli).status_code == 200
    assert [g.resource_type for g in api.store.get_user("pat").grants] == ["experiment"]


def _every_page(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    items, answers = [], []
    query: dict[str, Any] = {**params, "max_results": 2}
    while True:
        page = api.http.get(path, headers=api.admin, params=query)
        assert page.status_code == 200, page.text
        answers.append(page.json())
        items += page.json()["items"]
        if "next_page_token" not in page.json():
            break
        query["page_token"] = page.json()["next_page_token"]
    assert len(answers) > 1 and all(len(a["items"]) == 2 for a in answers[:-1])
    return items


def test_every_list_is_a_page_after_a_cursor(api: Api) -> None:
    for name in ("pg-a", "pg-b", "pg-c"):
        api.store.create_user(name)
        api.store.create_token(name)
    users = _every_page(api, "/api/v1/users")
    assert [u["name"] for u in users] == [u.name for u in api.store.list_users()]
    assert len({u["name"] for u in users}) == len(users) >= 5
    tokens = _every_page(api, "/api/v1/tokens")
    assert [t["id"] for t in tokens] == [t.id for t in api.store.list_tokens()]
    api.store.create_token("pg-a")
    api.store.create_token("pg-a")
    assert [t["user"] for t in _every_page(api, "/api/v1/tokens", user="pg-a")] == ["pg-a"] * 3
    for params, field in [({"page_token": "not-a-token"}, "page_token"), ({"max_results": 0}, "max_results"),
                          ({"max_results": 10_001}, "max_results"), ({"max_results": "many"}, "max_results")]:
        for path in ("/api/v1/users", "/api/v1/tokens", "/api/v1/users/vic/grants"):
            bad = api.http.get(path, headers=api.admin, params=params)
            assert bad.status_code == 422 and bad.json()["error"]["field"] == field, (path, bad.text)
    # A user's own token list is paged too.
    own = api.http.get("/api/v1/tokens", headers=api.viewer, params={"max_results": 1}).json()
    assert {t["user"] for t in own["items"]} == {"vic"}


def test_the_remote_store_and_the_cli_follow_every_page(api: Api, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    import shipyard.remote._pages
    from shipyard.cli.main import app
    from shipyard.remote._access import RemoteAccessStore

    for name in ("rp-a", "rp-b", "rp-c"):
        api.store.create_user(name)
    api.store.grant("rp-a", "experiment", api.experiment, "read")
    api.store.grant("rp-a", "registered_model", "churn", "edit")
    api.store.grant("rp-a", "experiment", "0", "manage")
    monkeypatch.setattr(shipyard.remote._pages, "PAGE_SIZE", 2)
    admin = RemoteAccessStore(str(api.http.base_url), api.admin["Authorization"].removeprefix("Bearer "))
    try:
        names = [u.name for u in api.store.list_users()]
        assert [u.name for u in admin.list_users()] == names and len(names) > 2
        one = admin.list_users(max_results=1)
        assert len(one) == 1 and one.next_page_token
        assert [u.name for u in admin.list_users(max_results=1, page_token=one.next_page_token)] == names[1:2]
        assert [g.resource_id for g in admin.list_grants("rp-a")] == ["0", api.experiment, "churn"]
        assert admin.revoke_grant("rp-a", "experiment", "0").permission == "manage"
        assert [t.id for t in admin.list_tokens()] == [t.id for t in api.store.list_tokens()]
    finally:
        admin.close()

    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path))
    monkeypatch.setenv("SHIPYARD_URL", str(api.http.base_url))
    monkeypatch.setenv("SHIPYARD_TOKEN", api.admin["Authorization"].removeprefix("Bearer "))
    runner = CliRunner()
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [u["name"] for u in json.loads(listed.stdout)["items"]] == names
    held = runner.invoke(app, ["users", "grants", "rp-a", "--json"])
    assert [g["resource_id"] for g in json.loads(held.stdout)["items"]] == [api.experiment, "churn"]
    revoked = runner.invoke(app, ["users", "revoke", "rp-a", "--model", "churn"])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked edit on registered_model churn from rp-a" in revoked.stdout
    assert [g.resource_id for g in api.store.get_user("rp-a").grants] == [api.experiment]
    missing = runner.invoke(app, ["users", "revoke", "rp-a", "--model", "churn"])
    assert missing.exit_code == 1


def _contract_calls(api: Api) -> list[tuple[str, str, str, dict[str, Any], dict[str, str], int]]:
    """(method, path template, path, request keywords, headers, status): one call of each route of
    the users router, and its refusals, in an order where each finds what the earlier ones made."""
    v1, admin, viewer = "/api/v1", api.admin, api.viewer
    grant = {"resource_type": "registered_model", "resource_id": "churn", "permission": "read"}
    return [
        ("POST", f"{v1}/users", f"{v1}/users", {"json": {"name": "oas", "role": "editor"}}, admin, 201),
        ("POST", f"{v1}/users", f"{v1}/users", {"json": {"name": "oas"}}, admin, 409),
        ("POST", f"{v1}/users", f"{v1}/users", {"json": {"name": "<b>x</b>"}}, admin, 422),
        ("POST", f"{v1}/users", f"{v1}/users", {"json": {"name": "nope"}}, viewer, 403),
        ("POST", f"{v1}/users", f"{v1}/users", {"json": {"name": "nope"}}, {}, 401),
        ("GET", f"{v1}/users", f"{v1}/users", {"params": {"max_results": 1}}, admin, 200),
        ("GET", f"{v1}/users/{{name}}", f"{v1}/users/oas", {}, admin, 200),
        ("GET", f"{v1}/users/{{name}}", f"{v1}/users/ghost", {}, admin, 404),
        ("PUT", f"{v1}/users/{{name}}/role", f"{v1}/users/oas/role", {"json": {"role": "viewer"}}, admin, 200),
        ("POST", f"{v1}/users/{{name}}/disable", f"{v1}/users/oas/disable", {}, admin, 200),
        ("POST", f"{v1}/users/{{name}}/enable", f"{v1}/users/oas/enable", {}, admin, 200),
        ("POST", f"{v1}/users/{{name}}/grants", f"{v1}/users/oas/grants", {"json": grant}, admin, 201),
        ("POST", f"{v1}/users/{{name}}/grants", f"{v1}/users/oas/grants",
         {"json": {**grant, "resource_id": "nope"}}, admin, 404),
        ("GET", f"{v1}/users/{{name}}/grants", f"{v1}/users/oas/grants", {}, admin, 200),
        ("DELETE", f"{v1}/users/{{name}}/grants/{{resource_type}}/{{resource_id}}",
         f"{v1}/users/oas/grants/registered_model/churn", {}, admin, 200),
        ("POST", f"{v1}/tokens", f"{v1}/tokens", {"json": {"name": "contract"}}, viewer, 201),
        ("GET", f"{v1}/tokens", f"{v1}/tokens", {"params": {"max_results": 1}}, admin, 200),
        ("GET", f"{v1}/tokens", f"{v1}/tokens", {"params": {"page_token": "x"}}, admin, 422),
    ]


def test_every_users_and_tokens_route_answers_what_the_document_declares(api: Api) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{str(api.http.base_url).rstrip('/')}/openapi.json", timeout=30)
    for method, template, path, kwargs, headers, status in _contract_calls(api):
        response = api.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        schema[template][method].validate_response(response)
    token = api.http.post("/api/v1/tokens", headers=api.viewer, json={}).json()["id"]
    revoked = api.http.delete(f"/api/v1/tokens/{token}", headers=api.viewer)
    schema["/api/v1/tokens/{token_id}"]["DELETE"].validate_response(revoked)
    document = httpx.get(f"{str(api.http.base_url).rstrip('/')}/openapi.json").json()
    routes = {(m.upper(), p) for p, item in document["paths"].items() for m in item
              if p.startswith(("/api/v1/users", "/api/v1/tokens"))}
    called = {(m, t) for m, t, *_ in _contract_calls(api)} | {("DELETE", "/api/v1/tokens/{token_id}")}
    assert sorted(routes - called) == []

