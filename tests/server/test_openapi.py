"""``shipyard server``'s OpenAPI document is its contract: it lists every route the app serves,
declares every answer, and the server keeps to it under fuzzing (schemathesis)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from starlette.responses import Response

from shipyard import Config
from shipyard.server import create_app
from shipyard.server.mlflow import ROUTES
from shipyard.testing.registry import fake_package_run
from shipyard.tracking import LogBatch, now_ms
from tests.services import ServerThread

ADMIN = "openapi-fuzz-admin"  # a name the fuzzer will not guess: it must not disable or demote it
DOCUMENT = "/api/v1/openapi.json"
# Served but not part of the contract: the web UI, the documentation pages and the document itself.
UNDOCUMENTED = {("GET", "/"), ("GET", "/ui/assets/{path}"), ("GET", "/docs"), ("GET", "/docs/assets/{name}"),
                *((m, p) for m in ("GET", "HEAD") for p in (DOCUMENT, "/openapi.json"))}
MLFLOW = r"^/api/(2|3)\.0/"


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves, templates as the document writes them:
    FastAPI's routes (``{key:path}`` is ``{key}``) and the MLflow-compatible API's table."""
    found: set[tuple[str, str]] = set()
    for route in app.router.routes:
        contexts_of = getattr(route, "effective_route_contexts", None)  # an included router's routes
        contexts: list[Any] = contexts_of() if contexts_of is not None else [route]
        for ctx in contexts:
            found |= {(m, re.sub(r":path}", "}", ctx.path)) for m in ctx.methods or ()}
    found |= set(ROUTES._exact)
    for method, pattern, _ in ROUTES._patterns:
        # The table keeps a regex per parameterised route: name it by the template it was made from.
        found.add((method, re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern.pattern).rstrip("$").replace("\\", "")))
    return found


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def undeclared_answers(document: dict[str, Any]) -> list[str]:
    """The operations that declare no success body: a 2xx answer with a schema for each of
    its media types, unless every success answer is a 204 or a redirect."""
    out = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = {code: a for code, a in operation.get("responses", {}).items() if code[0] in "23"}
            bodies = [a for code, a in answers.items() if code.startswith("2") and code != "204"]
            declared = all(a.get("content") and all(c.get("schema") for c in a["content"].values())
                           for a in bodies)
            if not answers or not declared:
                out.append(f"{method.upper()} {path}")
    return out


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Config(home=tmp_path_factory.mktemp("bare")))


def test_the_document_lists_every_route_the_app_serves(bare_app: FastAPI) -> None:
    served, listed = served_routes(bare_app) - UNDOCUMENTED, documented(bare_app.openapi())
    assert sorted(served - listed) == []
    assert sorted(listed - served) == []
    assert ("GET", "/metrics") in listed
    assert ("POST", "/api/2.0/mlflow/runs/log-batch") in listed
    assert ("GET", "/api/2.0/mlflow-artifacts/artifacts/{path}") in listed


def test_every_operation_declares_its_success_body(bare_app: FastAPI) -> None:
    assert undeclared_answers(bare_app.openapi()) == []


def test_a_route_without_a_declared_answer_is_caught(tmp_path: Path) -> None:
    app = create_app(Config(home=tmp_path))

    @app.get("/api/v1/undeclared")
    def undeclared() -> Response:
        return Response(b"{}", media_type="application/json")

    @app.post("/api/v1/forgets", status_code=204)
    def nothing() -> Response:
        return Response(status_code=204)

    app.openapi_schema = None
    assert undeclared_answers(app.openapi()) == ["GET /api/v1/undeclared"]
    assert ("GET", "/api/v1/undeclared") in served_routes(app)


# -- against a running server -------------------------------------------------------------------


@dataclass
class Live:
    url: str
    app: FastAPI
    headers: dict[str, str]
    run_id: str
    experiment_id: str

    def document(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + DOCUMENT, timeout=30).json())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server with authentication on (one admin user), some data to find, and its token."""
    app = create_app(Config(home=tmp_path_factory.mktemp("openapi")))
    thread = ServerThread(app).start()
    try:
        store = app.state.access
        store.create_user(ADMIN, "admin")
        tracking, registry = app.state.tracking, app.state.registry
        experiment = tracking.create_experiment("contract", tags={"team": "a"})
        run_id = fake_package_run(tracking, {"auc": 0.8, "nan": float("nan")})
        tracking.log_batch(LogBatch(metrics=[(run_id, "loss", float("inf"), now_ms(), 1)]), allow_finished=True)
        registry.create_model_version("churn", f"runs:/{run_id}/model", actor=ADMIN)
        registry.set_alias("churn", "production", 1, ADMIN)
        yield Live(thread.url, app, {"Authorization": f"Bearer {store.create_token(ADMIN)[1]}"}, run_id,
                   experiment.id)
    finally:
        thread.stop()


def test_the_document_is_served_at_api_v1_and_at_its_first_address_without_a_credential(live: Live) -> None:
    document = httpx.get(live.url + DOCUMENT, timeout=30)
    assert document.status_code == 200 and document.json()["info"]["title"] == "Shipyard"
    assert httpx.get(live.url + "/openapi.json", timeout=30).json() == document.json()
    assert httpx.get(live.url + "/api/v1/experiments", timeout=30).status_code == 401  # authentication is on
    page = httpx.get(live.url + "/docs", timeout=30).text
    assert f"'{DOCUMENT}'" in page or f'"{DOCUMENT}"' in page


def _schema(live: Live) -> Any:
    import schemathesis

    return schemathesis.openapi.from_url(live.url + DOCUMENT, timeout=30)


# (method, path template, concrete path, request keywords): one valid call of each route of the
# tracking and registry routers, in an order where each finds what the earlier ones made.
def _contract_calls(live: Live) -> list[tuple[str, str, str, dict[str, Any]]]:
    run, exp, v1 = live.run_id, live.experiment_id, "/api/v1"
    reg, model = f"{v1}/registry", f"{v1}/registry/models/churn"
    return [
        ("GET", f"{v1}/health", f"{v1}/health", {}),
        ("POST", f"{v1}/experiments", f"{v1}/experiments", {"json": {"name": "made"}}),
        ("GET", f"{v1}/experiments", f"{v1}/experiments", {"params": {"max_results": 1}}),
        ("GET", f"{v1}/experiments/by-name", f"{v1}/experiments/by-name", {"params": {"name": "contract"}}),
        ("GET", f"{v1}/experiments/{{experiment_id}}", f"{v1}/experiments/{exp}", {}),
        ("PATCH", f"{v1}/experiments/{{experiment_id}}", f"{v1}/experiments/{exp}", {"json": {"name": "contract"}}),
        ("PUT", f"{v1}/experiments/{{experiment_id}}/tags/{{key}}", f"{v1}/experiments/{exp}/tags/a/b",
         {"json": {"value": "x"}}),
        ("POST", f"{v1}/runs", f"{v1}/runs", {"json": {"experiment_id": exp, "tags": {"t": "1"}}}),
        ("POST", f"{v1}/runs/search", f"{v1}/runs/search", {"json": {"experiment_ids": ["0", exp]}}),
        ("GET", f"{v1}/runs/{{run_id}}", f"{v1}/runs/{run}", {}),
        ("POST", f"{v1}/runs/log-batch", f"{v1}/runs/log-batch",
         {"json": {"metrics": [[run, "m", "NaN", 1, 0]], "params": [[run, "p", "1"]], "tags": [[run, "k", "v"]]},
          "params": {"allow_finished": "true"}}),
        ("POST", f"{v1}/runs/record", f"{v1}/runs/record",
         {"json": {"runs": [{"experiment_id": exp, "metrics": [["m", 1.5, 1, 0]], "artifacts": {"a.txt": "aGk="}}]}}),
        ("PATCH", f"{v1}/runs/{{run_id}}", f"{v1}/runs/{run}", {"json": {"name": "renamed"}}),
        ("DELETE", f"{v1}/runs/{{run_id}}/tags/{{key}}", f"{v1}/runs/{run}/tags/k", {}),
        ("GET", f"{v1}/runs/{{run_id}}/metric-history", f"{v1}/runs/{run}/metric-history", {"params": {"key": "loss"}}),
        ("GET", f"{v1}/metric-histories", f"{v1}/metric-histories",
         {"params": {"key": "auc", "max_points": 10, "run_id": [run]}}),
        ("PUT", f"{v1}/runs/{{run_id}}/artifacts/{{path}}", f"{v1}/runs/{run}/artifacts/eval/scores.csv",
         {"content": b"fold,auc\n1,0.8\n"}),
        ("GET", f"{v1}/runs/{{run_id}}/table-head", f"{v1}/runs/{run}/table-head",
         {"params": {"path": "eval/scores.csv"}}),
        ("GET", f"{v1}/runs/{{run_id}}/model-package", f"{v1}/runs/{run}/model-package", {}),
        ("PUT", f"{v1}/runs/{{run_id}}/artifacts/{{path}}", f"{v1}/runs/{run}/artifacts/notes/a.txt",
         {"content": b"hello"}),
        ("GET", f"{v1}/runs/{{run_id}}/artifacts", f"{v1}/runs/{run}/artifacts", {"params": {"max_results": 2}}),
        ("GET", f"{v1}/runs/{{run_id}}/artifacts/{{path}}", f"{v1}/runs/{run}/artifacts/notes/a.txt", {}),
        ("DELETE", f"{v1}/runs/{{run_id}}/artifacts/{{path}}", f"{v1}/runs/{run}/artifacts/notes/a.txt", {}),
        ("GET", f"{reg}/generation", f"{reg}/generation", {}),
        ("GET", f"{reg}/resolve", f"{reg}/resolve", {"params": {"uri": "models:/churn@production"}}),
        ("GET", f"{reg}/lineage", f"{reg}/lineage", {"params": {"type": "run", "id": run}}),
        ("POST", f"{reg}/models", f"{reg}/models", {"json": {"name": "other", "tags": {"a": "b"}}}),
        ("GET", f"{reg}/models", f"{reg}/models", {"params": {"max_results": 1}}),
        ("GET", f"{reg}/models/{{name}}", model, {}),
        ("PATCH", f"{reg}/models/{{name}}", model, {"json": {"description": "d"}}),
        ("PUT", f"{reg}/models/{{name}}/tags/{{key}}", f"{model}/tags/k", {"json": {"value": "v"}}),
        ("POST", f"{reg}/models/{{name}}/versions", f"{model}/versions", {"json": {"source": f"runs:/{run}/model"}}),
        ("GET", f"{reg}/versions", f"{reg}/versions", {"params": {"name": "churn"}}),
        ("GET", f"{reg}/models/{{name}}/versions/{{version}}", f"{model}/versions/1", {}),
        ("PATCH", f"{reg}/models/{{name}}/versions/{{version}}", f"{model}/versions/1", {"json": {"description": "d"}}),
        ("PUT", f"{reg}/models/{{name}}/versions/{{version}}/tags/{{key}}", f"{model}/versions/1/tags/k",
         {"json": {"value": "v"}}),
        ("GET", f"{reg}/models/{{name}}/versions/{{version}}/files", f"{model}/versions/1/files", {}),
        ("GET", f"{reg}/models/{{name}}/versions/{{version}}/files/{{path}}", f"{model}/versions/1/files/model.pkl",
         {}),
        ("GET", f"{reg}/models/{{name}}/aliases/{{alias}}", f"{model}/aliases/production", {}),
        ("PUT", f"{reg}/models/{{name}}/aliases/{{alias}}", f"{model}/aliases/production",
         {"json": {"version": 2, "reason": "better"}}),
        ("POST", f"{reg}/models/{{name}}/aliases/{{alias}}/rollback", f"{model}/aliases/production/rollback",
         {"json": {"reason": "worse"}}),
        ("PUT", f"{reg}/models/{{name}}/aliases/{{alias}}", f"{model}/aliases/staging", {"json": {"version": 2}}),
        ("DELETE", f"{reg}/models/{{name}}/aliases/{{alias}}", f"{model}/aliases/staging", {}),
        ("PUT", f"{reg}/models/{{name}}/policy", f"{model}/policy", {"json": {"policy": None}}),
        ("PUT", f"{reg}/models/{{name}}/traffic", f"{model}/traffic",
         {"json": {"traffic": {"routes": {"production": 100}}, "reason": "canary"}}),
        ("PUT", f"{reg}/models/{{name}}/traffic", f"{model}/traffic", {"json": {"traffic": None}}),
        ("GET", f"{reg}/models/{{name}}/history", f"{model}/history", {"params": {"max_results": 3}}),
        ("GET", f"{reg}/models/{{name}}/versions/{{version}}/gates", f"{model}/versions/1/gates", {}),
        ("GET", f"{reg}/models/{{name}}/versions/{{version}}/card", f"{model}/versions/1/card", {}),
        ("DELETE", f"{reg}/models/{{name}}/versions/{{version}}", f"{model}/versions/2", {}),
        ("DELETE", f"{reg}/models/{{name}}", f"{reg}/models/other", {}),
        ("GET", "/metrics", "/metrics", {}),
    ]


def test_every_tracking_and_registry_route_answers_what_the_document_declares(live: Live) -> None:
    schema = _schema(live)
    with httpx.Client(base_url=live.url, headers=live.headers, timeout=30) as http:
        for method, template, path, kwargs in _contract_calls(live):
            response = http.request(method, path, **kwargs)
            assert response.status_code == 200, (method, path, response.text)
            schema[template][method].validate_response(response)
    tracked = {(m, t) for m, t, _, _ in _contract_calls(live)}
    mine = {(m, p) for m, p in documented(live.document())
            if p.startswith(("/api/v1/registry", "/api/v1/runs", "/api/v1/experiments", "/api/v1/health", "/metrics"))}
    assert sorted(mine - tracked) == []


# -- fuzzing ----------------------------------------------------------------------------------


def fuzz(schema: Any, headers: dict[str, str], examples: int,
         checks: list[Callable[..., Any]]) -> tuple[list[str], Counter[int]]:
    """Run each operation of ``schema`` on ``examples`` generated requests (and half as many
    invalid ones) with ``headers``; the failures of ``checks``, and the statuses answered.

    Schemathesis 4 cannot validate an answer whose schema holds a tuple (``prefixItems``,
    schemathesis#3842): it reports the schema as invalid, and that is a failure here too."""
    from schemathesis.generation import GenerationMode

    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, count in ((GenerationMode.POSITIVE, examples), (GenerationMode.NEGATIVE, max(1, examples // 2))):
            try:
                _fuzz_operation(operation.as_strategy(generation_mode=mode), count, headers, checks, failures,
                                statuses)
            except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
                if mode is not GenerationMode.NEGATIVE:
                    raise
    return failures, statuses


def _fuzz_operation(cases: Any, count: int, headers: dict[str, str], checks: list[Callable[..., Any]],
                    failures: list[str], statuses: Counter[int]) -> None:
    from schemathesis.core.errors import InvalidSchema
    from schemathesis.core.failures import FailureGroup

    @settings(max_examples=count, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def call(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (AssertionError, FailureGroup, InvalidSchema) as exc:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} "
                            f"{response.text[:200]!r}: {type(exc).__name__}: {str(exc)[:600]}")

    call()


def _conformance_checks() -> list[Callable[..., Any]]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_schemathesis_finds_no_server_error_and_no_undeclared_answer(live: Live) -> None:
    schema = _schema(live).exclude(path_regex=MLFLOW)
    failures, statuses = fuzz(schema, live.headers, 3, _conformance_checks())
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures[:15])
    assert statuses.total() >= 250
    assert sum(n for status, n in statuses.items() if status < 300) >= 50  # it reaches real answers too


def test_schemathesis_finds_no_server_error_and_no_undeclared_answer_in_the_mlflow_api(live: Live) -> None:
    schema = _schema(live).include(path_regex=MLFLOW)
    failures, statuses = fuzz(schema, live.headers, 3, _conformance_checks())
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures[:15])
    assert statuses.total() >= 150
    assert sum(n for status, n in statuses.items() if status < 300) >= 15
