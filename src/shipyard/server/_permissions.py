"""The permission each route needs: one table, ``(method, path template)`` → :class:`Rule`.

:class:`~shipyard.server._access.AccessMiddleware` looks every request up here, so this
table is the whole authorization policy of ``shipyard server`` (the REST API, the
MLflow-compatible API, ``/metrics``). A route missing from it is refused to everyone but
admins, and a test built from the app's route list fails for it.

A rule's ``resource`` finds the experiment or registered model a request concerns; it is
consulted only when the user's global role is not enough, so a per-resource grant can
widen a viewer's rights there. Alias moves decide their action from the request: moving
or deleting a guarded alias (such as ``production``), and forcing past a promotion gate,
need ``approve``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.access import RESOURCE_TYPES, Resource
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry import PromotionPolicy
from shipyard.server._docs import ASSETS
from shipyard.server.mlflow._logged_models import LoggedModels
from shipyard.ui import ASSETS_URL as UI_ASSETS

__all__ = ["OPEN", "PERMISSIONS", "Call", "Rule", "match"]

OPEN = "open"  # no authentication at all: health checks, signing in, the static UI and documentation pages


@dataclass
class Call:
    """What a rule may read of a request: path parameters, query, JSON body, the app's stores."""

    path_params: Mapping[str, str]
    query: Mapping[str, str]
    body: Mapping[str, Any] | None
    state: Any

    def get(self, *names: str) -> str | None:
        for name in names:
            for source in (self.path_params, self.query, self.body or {}):
                value = source.get(name)
                if value not in (None, ""):
                    return str(value)
        return None


Extractor = Callable[[Call], "Resource | None"]
# Finds every resource a request writes to (a batch may touch many runs); None in the
# list stands for a resource that could not be found, which only the global role may touch.
ManyExtractor = Callable[[Call], "list[Resource | None]"]


@dataclass(frozen=True)
class Rule:
    """``action`` (or a function of the call giving it) on the resource ``resource`` finds."""

    action: str | Callable[[Call], str]
    resource: Extractor | None = None
    resources: ManyExtractor | None = None  # each one must be allowed (checked instead of ``resource``)

    @property
    def needs_body(self) -> bool:
        return self.resource is not None or self.resources is not None or callable(self.action)


def experiment(*fields: str) -> Extractor:
    def find(call: Call) -> Resource | None:
        value = call.get(*fields)
        return None if value is None else Resource("experiment", value)
    return find


def run(*fields: str) -> Extractor:
    """The experiment of the run named by ``fields`` (an unknown run: no resource)."""
    def find(call: Call) -> Resource | None:
        run_id = call.get(*fields)
        if run_id is None:
            return None
        try:
            return Resource("experiment", str(call.state.tracking.get_run(run_id).experiment_id))
        except (NotFound, InvalidInput):
            return None
    return find


def _run_experiment(call: Call, run_id: str) -> Resource | None:
    return run("run_id")(Call({"run_id": run_id}, {}, None, call.state))


def batch_runs(call: Call) -> list[Resource | None]:
    """The experiments of every run a log batch writes to (``[run_id, ...]`` entries)."""
    body = call.body or {}
    run_ids: set[str] = set()
    for kind in ("metrics", "params", "tags"):
        entries = body.get(kind)
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, list) and entry:
                run_ids.add(str(entry[0]))
    return [_run_experiment(call, r) for r in sorted(run_ids)]


def recorded_runs(call: Call) -> list[Resource | None]:
    """The experiment of every recorded run, and of the run it names when that one exists."""
    runs = (call.body or {}).get("runs")
    found: list[Resource | None] = []
    for raw in runs if isinstance(runs, list) else ():
        if not isinstance(raw, dict):
            continue
        experiment_id = raw.get("experiment_id")
        found.append(None if experiment_id in (None, "") else Resource("experiment", str(experiment_id)))
        if raw.get("id") not in (None, ""):
            existing = _run_experiment(call, str(raw["id"]))
            if existing is not None:
                found.append(existing)
    return found


def logged_model(call: Call) -> Resource | None:
    """The experiment of the MLflow logged model ``model_id`` (an unknown one: no resource)."""
    model_id = call.get("model_id")
    if model_id is None:
        return None
    try:
        return Resource("experiment", str(LoggedModels(call.state.tracking).get(model_id, allow_deleted=True)
                                          .experiment_id))
    except (NotFound, InvalidInput):
        return None


def model(*fields: str) -> Extractor:
    def find(call: Call) -> Resource | None:
        value = call.get(*fields)
        return None if value is None else Resource("registered_model", value)
    return find


def granted(call: Call) -> Resource | None:
    """The experiment or registered model a grant's path names (``resource_type``, ``resource_id``)."""
    kind, value = call.path_params.get("resource_type"), call.path_params.get("resource_id")
    return Resource(kind, value) if kind in RESOURCE_TYPES and value else None


def mlflow_artifact(call: Call) -> Resource | None:
    """``<experiment>/<run id>/artifacts/...``: the run's experiment."""
    parts = (call.path_params.get("path") or call.query.get("path") or "").split("/")
    if len(parts) >= 2:
        return run("run_id")(Call({"run_id": parts[1]}, {}, None, call.state))
    return None


def _guarded(call: Call, name: str | None, alias: str | None) -> bool:
    if not name or not alias:
        return False
    try:
        policy = call.state.registry.get_registered_model(name).policy
    except (NotFound, InvalidInput):
        return False
    return bool(policy) and PromotionPolicy.from_json(policy).guards(alias)


def alias_move(call: Call) -> str:
    """``approve`` to force, or to move or delete a guarded alias; else ``edit``.

    A forced move must give a reason, so the audit trail says why the gate was passed.
    """
    force = bool((call.body or {}).get("force")) or call.query.get("force", "").lower() == "true"
    if force:
        if not call.get("reason"):
            raise InvalidInput("forcing past a promotion gate needs a 'reason'", field="reason")
        return "approve"
    return "approve" if _guarded(call, call.get("name"), call.get("alias")) else "edit"


_ALIAS = Rule(alias_move, model("name"))
_V1 = "/api/v1"
_ML = "/api/2.0/mlflow"

PERMISSIONS: dict[tuple[str, str], Rule] = {
    # -- open: health, the web UI's shell and files, documentation ----------------------
    # (the UI's pages hold no data: they read it from /api/v1, whose rules apply)
    ("GET", "/api/v1/health"): Rule(OPEN),
    ("GET", "/"): Rule(OPEN),
    ("GET", f"{UI_ASSETS}/{{path:path}}"): Rule(OPEN),
    ("GET", "/docs"): Rule(OPEN),
    ("GET", "/docs/assets/{name}"): Rule("read"),  # only the vendored files below are open
    **{("GET", f"/docs/assets/{name}"): Rule(OPEN) for name in ASSETS},
    ("GET", "/openapi.json"): Rule(OPEN),
    ("HEAD", "/openapi.json"): Rule(OPEN),
    ("GET", "/api/v1/openapi.json"): Rule(OPEN),
    ("HEAD", "/api/v1/openapi.json"): Rule(OPEN),
    # -- single sign-on: signing in, and logging out (which checks the session's CSRF token)
    ("GET", "/login"): Rule(OPEN),
    ("GET", "/auth/callback"): Rule(OPEN),
    ("POST", "/logout"): Rule(OPEN),
    ("POST", "/login/password"): Rule(OPEN),  # throttled by the login limiter (server/_password_login.py)
    ("GET", "/metrics"): Rule("read"),
    # -- tracking -----------------------------------------------------------------------
    ("GET", f"{_V1}/limits"): Rule("read"),
    ("POST", f"{_V1}/experiments"): Rule("edit"),
    ("GET", f"{_V1}/experiments"): Rule("read"),
    ("GET", f"{_V1}/experiments/by-name"): Rule("read"),
    ("GET", f"{_V1}/experiments/{{experiment_id}}"): Rule("read"),
    ("PATCH", f"{_V1}/experiments/{{experiment_id}}"): Rule("manage", experiment("experiment_id")),
    ("PUT", f"{_V1}/experiments/{{experiment_id}}/tags/{{key:path}}"): Rule("edit", experiment("experiment_id")),
    ("POST", f"{_V1}/runs"): Rule("edit", experiment("experiment_id")),
    ("POST", f"{_V1}/runs/search"): Rule("read"),
    ("POST", f"{_V1}/runs/log-batch"): Rule("edit", resources=batch_runs),
    ("POST", f"{_V1}/runs/record"): Rule("edit", resources=recorded_runs),
    ("GET", f"{_V1}/runs/{{run_id}}"): Rule("read"),
    ("PATCH", f"{_V1}/runs/{{run_id}}"): Rule("edit", run("run_id")),
    ("DELETE", f"{_V1}/runs/{{run_id}}/tags/{{key:path}}"): Rule("edit", run("run_id")),
    ("GET", f"{_V1}/runs/{{run_id}}/metric-history"): Rule("read"),
    ("GET", f"{_V1}/runs/{{run_id}}/table-head"): Rule("read"),
    ("GET", f"{_V1}/runs/{{run_id}}/model-package"): Rule("read"),
    ("GET", f"{_V1}/metric-histories"): Rule("read"),
    ("GET", f"{_V1}/runs/{{run_id}}/artifacts"): Rule("read"),
    ("PUT", f"{_V1}/runs/{{run_id}}/artifacts/{{path:path}}"): Rule("edit", run("run_id")),
    ("GET", f"{_V1}/runs/{{run_id}}/artifacts/{{path:path}}"): Rule("read"),
    ("DELETE", f"{_V1}/runs/{{run_id}}/artifacts/{{path:path}}"): Rule("manage", run("run_id")),
    # -- registry -----------------------------------------------------------------------
    ("GET", f"{_V1}/registry/generation"): Rule("read"),
    ("GET", f"{_V1}/registry/resolve"): Rule("read"),
    ("GET", f"{_V1}/registry/lineage"): Rule("read"),
    ("POST", f"{_V1}/registry/models"): Rule("edit"),
    ("GET", f"{_V1}/registry/models"): Rule("read"),
    ("GET", f"{_V1}/registry/models/{{name}}"): Rule("read"),
    ("PATCH", f"{_V1}/registry/models/{{name}}"): Rule("edit", model("name")),
    ("PUT", f"{_V1}/registry/models/{{name}}/tags/{{key:path}}"): Rule("edit", model("name")),
    ("DELETE", f"{_V1}/registry/models/{{name}}"): Rule("manage", model("name")),
    ("POST", f"{_V1}/registry/models/{{name}}/versions"): Rule("edit", model("name")),
    ("GET", f"{_V1}/registry/versions"): Rule("read"),
    ("GET", f"{_V1}/registry/models/{{name}}/versions/{{version}}"): Rule("read"),
    ("PATCH", f"{_V1}/registry/models/{{name}}/versions/{{version}}"): Rule("edit", model("name")),
    ("PUT", f"{_V1}/registry/models/{{name}}/versions/{{version}}/tags/{{key:path}}"): Rule("edit", model("name")),
    ("DELETE", f"{_V1}/registry/models/{{name}}/versions/{{version}}"): Rule("manage", model("name")),
    ("GET", f"{_V1}/registry/models/{{name}}/versions/{{version}}/files"): Rule("read"),
    ("GET", f"{_V1}/registry/models/{{name}}/versions/{{version}}/files/{{path:path}}"): Rule("read"),
    ("GET", f"{_V1}/registry/models/{{name}}/versions/{{version}}/gates"): Rule("read"),  # checks; moves nothing
    ("GET", f"{_V1}/registry/models/{{name}}/versions/{{version}}/card"): Rule("read"),
    ("GET", f"{_V1}/registry/models/{{name}}/aliases/{{alias}}"): Rule("read"),
    ("PUT", f"{_V1}/registry/models/{{name}}/aliases/{{alias}}"): _ALIAS,
    ("DELETE", f"{_V1}/registry/models/{{name}}/aliases/{{alias}}"): _ALIAS,
    ("POST", f"{_V1}/registry/models/{{name}}/aliases/{{alias}}/rollback"): _ALIAS,
    ("PUT", f"{_V1}/registry/models/{{name}}/policy"): Rule("approve"),
    ("PUT", f"{_V1}/registry/models/{{name}}/traffic"): Rule("approve"),
    ("GET", f"{_V1}/registry/models/{{name}}/history"): Rule("read"),
    # -- datasets -----------------------------------------------------------------------
    ("GET", f"{_V1}/datasets"): Rule("read"),
    ("GET", f"{_V1}/datasets/resolve"): Rule("read"),
    ("POST", f"{_V1}/datasets/objects/missing"): Rule("edit"),
    ("PUT", f"{_V1}/datasets/objects/{{digest}}"): Rule("edit"),
    ("POST", f"{_V1}/datasets/{{name}}/versions"): Rule("edit"),
    ("GET", f"{_V1}/datasets/{{name}}/versions"): Rule("read"),
    ("GET", f"{_V1}/datasets/{{name}}/versions/{{version}}"): Rule("read"),
    ("GET", f"{_V1}/datasets/{{name}}/versions/{{version}}/files"): Rule("read"),
    ("GET", f"{_V1}/datasets/{{name}}/versions/{{version}}/files/{{path:path}}"): Rule("read"),
    ("POST", f"{_V1}/datasets/{{name}}/versions/{{version}}/lineage"): Rule("edit"),
    ("GET", f"{_V1}/datasets/{{name}}/versions/{{version}}/lineage"): Rule("read"),
    ("GET", f"{_V1}/datasets/{{name}}/diff"): Rule("read"),
    ("GET", f"{_V1}/datasets/{{name}}/versions/{{version}}/contract"): Rule("read"),
    ("GET", f"{_V1}/datasets/{{name}}/versions/{{version}}/validation"): Rule("read"),
    # -- features -----------------------------------------------------------------------
    ("POST", f"{_V1}/features/apply"): Rule("edit"),
    ("GET", f"{_V1}/features/objects"): Rule("read"),
    ("GET", f"{_V1}/features/objects/{{kind}}/{{name}}"): Rule("read"),
    ("GET", f"{_V1}/features/objects/{{kind}}/{{name}}/versions"): Rule("read"),
    ("GET", f"{_V1}/features/views/{{view}}/materialization"): Rule("read"),
    ("PUT", f"{_V1}/features/views/{{view}}/materialization"): Rule("edit"),
    ("POST", f"{_V1}/features/lineage"): Rule("edit"),
    ("POST", f"{_V1}/features/online"): Rule("read"),
    ("POST", f"{_V1}/features/push"): Rule("edit"),
    ("POST", f"{_V1}/features/online-store/{{view}}/rows"): Rule("edit"),
    ("POST", f"{_V1}/features/online-store/{{view}}/read"): Rule("read"),
    ("DELETE", f"{_V1}/features/online-store/{{view}}"): Rule("manage"),
    ("GET", f"{_V1}/features/online-store/{{view}}/freshness"): Rule("read"),
    ("POST", f"{_V1}/features/views/{{view}}/skew-check"): Rule("read"),  # compares; stores nothing
    # -- monitoring and alerts ----------------------------------------------------------
    ("GET", f"{_V1}/monitors"): Rule("read"),
    ("POST", f"{_V1}/monitors"): Rule("edit"),
    ("GET", f"{_V1}/monitors/{{name}}"): Rule("read"),
    ("DELETE", f"{_V1}/monitors/{{name}}"): Rule("manage"),
    ("POST", f"{_V1}/monitors/{{name}}/commit"): Rule("edit"),
    ("GET", f"{_V1}/monitors/{{name}}/windows"): Rule("read"),
    ("GET", f"{_V1}/monitors/{{name}}/distribution"): Rule("read"),
    ("GET", f"{_V1}/monitoring/series"): Rule("read"),
    ("GET", f"{_V1}/monitoring/series/latest"): Rule("read"),
    ("POST", f"{_V1}/monitoring/series"): Rule("edit"),
    ("POST", f"{_V1}/monitoring/labels"): Rule("edit"),
    ("POST", f"{_V1}/monitoring/labels/query"): Rule("read"),
    ("POST", f"{_V1}/monitoring/segments/query"): Rule("read"),
    ("POST", f"{_V1}/monitoring/segments"): Rule("edit"),
    ("POST", f"{_V1}/alerts/rules"): Rule("edit"),
    ("GET", f"{_V1}/alerts/rules"): Rule("read"),
    ("GET", f"{_V1}/alerts/rules/{{name}}"): Rule("read"),
    ("DELETE", f"{_V1}/alerts/rules/{{name}}"): Rule("manage"),
    ("GET", f"{_V1}/alerts"): Rule("read"),
    ("GET", f"{_V1}/alerts/history"): Rule("read"),
    ("POST", f"{_V1}/alerts/evaluate"): Rule("edit"),
    # -- deployments (each shipyard serve registers itself) --------------------------------
    ("GET", f"{_V1}/deployments"): Rule("read"),
    ("GET", f"{_V1}/deployments/{{id}}"): Rule("read"),
    # -- automation: applying a policy edits its model's automation; runs wait for an approver --
    ("GET", f"{_V1}/automation/policies"): Rule("read"),
    ("POST", f"{_V1}/automation/policies"): Rule("edit", model("model")),
    ("GET", f"{_V1}/automation/policies/{{name}}"): Rule("read"),
    ("GET", f"{_V1}/automation/policies/{{name}}/versions"): Rule("read"),
    ("GET", f"{_V1}/automation/policies/{{name}}/audit"): Rule("read"),
    ("GET", f"{_V1}/automation/runs"): Rule("read"),
    ("GET", f"{_V1}/automation/runs/{{run_id}}"): Rule("read"),
    ("GET", f"{_V1}/automation/plan/{{model}}"): Rule("read"),
    ("POST", f"{_V1}/automation/runs/{{run_id}}/approve"): Rule("approve"),
    ("POST", f"{_V1}/automation/runs/{{run_id}}/reject"): Rule("approve"),
    ("POST", f"{_V1}/automation/exports"): Rule("edit"),
    # -- pipeline runs and the audit log: read-only ----------------------------------------
    ("GET", f"{_V1}/pipelines/runs"): Rule("read"),
    ("GET", f"{_V1}/pipelines/runs/{{run_id}}"): Rule("read"),
    ("GET", f"{_V1}/pipelines/runs/{{run_id}}/graph"): Rule("read"),
    ("GET", f"{_V1}/pipelines/runs/{{run_id}}/steps/{{node}}/log"): Rule("read"),
    ("GET", f"{_V1}/audit"): Rule("read"),
    # -- the MLflow-compatible API --------------------------------------------------------
    ("GET", f"{_ML}/experiments/get-by-name"): Rule("read"),
    ("POST", f"{_ML}/experiments/create"): Rule("edit"),
    ("GET", f"{_ML}/experiments/get"): Rule("read"),
    ("POST", f"{_ML}/experiments/search"): Rule("read"),
    ("GET", f"{_ML}/experiments/search"): Rule("read"),
    ("POST", f"{_ML}/experiments/delete"): Rule("manage", experiment("experiment_id")),
    ("POST", f"{_ML}/experiments/restore"): Rule("manage", experiment("experiment_id")),
    ("POST", f"{_ML}/experiments/update"): Rule("manage", experiment("experiment_id")),
    ("POST", f"{_ML}/experiments/set-experiment-tag"): Rule("edit", experiment("experiment_id")),
    ("POST", f"{_ML}/runs/create"): Rule("edit", experiment("experiment_id")),
    ("GET", f"{_ML}/runs/get"): Rule("read"),
    ("POST", f"{_ML}/runs/update"): Rule("edit", run("run_id", "run_uuid")),
    ("POST", f"{_ML}/runs/delete"): Rule("manage", run("run_id")),
    ("POST", f"{_ML}/runs/restore"): Rule("manage", run("run_id")),
    ("POST", f"{_ML}/runs/log-metric"): Rule("edit", run("run_id", "run_uuid")),
    ("POST", f"{_ML}/runs/log-parameter"): Rule("edit", run("run_id", "run_uuid")),
    ("POST", f"{_ML}/runs/set-tag"): Rule("edit", run("run_id", "run_uuid")),
    ("POST", f"{_ML}/runs/delete-tag"): Rule("edit", run("run_id")),
    ("POST", f"{_ML}/runs/log-batch"): Rule("edit", run("run_id")),
    ("POST", f"{_ML}/runs/search"): Rule("read"),
    ("GET", f"{_ML}/metrics/get-history"): Rule("read"),
    ("POST", f"{_ML}/runs/outputs"): Rule("edit", run("run_id")),
    ("POST", f"{_ML}/logged-models"): Rule("edit", experiment("experiment_id")),
    ("POST", f"{_ML}/logged-models/search"): Rule("read"),
    ("GET", f"{_ML}/logged-models/{{model_id}}"): Rule("read"),
    ("PATCH", f"{_ML}/logged-models/{{model_id}}"): Rule("edit", logged_model),
    ("DELETE", f"{_ML}/logged-models/{{model_id}}"): Rule("manage", logged_model),
    ("PATCH", f"{_ML}/logged-models/{{model_id}}/tags"): Rule("edit", logged_model),
    ("DELETE", f"{_ML}/logged-models/{{model_id}}/tags/{{tag_key:path}}"): Rule("edit", logged_model),
    ("POST", f"{_ML}/logged-models/{{model_id}}/params"): Rule("edit", logged_model),
    ("POST", f"{_ML}/registered-models/create"): Rule("edit"),
    ("GET", f"{_ML}/registered-models/get"): Rule("read"),
    ("GET", f"{_ML}/registered-models/search"): Rule("read"),
    ("PATCH", f"{_ML}/registered-models/update"): Rule("edit", model("name")),
    ("DELETE", f"{_ML}/registered-models/delete"): Rule("manage", model("name")),
    ("POST", f"{_ML}/registered-models/set-tag"): Rule("edit", model("name")),
    ("POST", f"{_ML}/registered-models/get-latest-versions"): Rule("read"),
    ("GET", f"{_ML}/registered-models/get-latest-versions"): Rule("read"),
    ("POST", f"{_ML}/model-versions/create"): Rule("edit", model("name")),
    ("GET", f"{_ML}/model-versions/get"): Rule("read"),
    ("GET", f"{_ML}/model-versions/search"): Rule("read"),
    ("GET", f"{_ML}/model-versions/get-download-uri"): Rule("read"),
    ("PATCH", f"{_ML}/model-versions/update"): Rule("edit", model("name")),
    ("DELETE", f"{_ML}/model-versions/delete"): Rule("manage", model("name")),
    ("POST", f"{_ML}/model-versions/set-tag"): Rule("edit", model("name")),
    ("POST", f"{_ML}/registered-models/alias"): _ALIAS,
    ("GET", f"{_ML}/registered-models/alias"): Rule("read"),
    ("DELETE", f"{_ML}/registered-models/alias"): _ALIAS,
    ("GET", "/api/2.0/mlflow-artifacts/artifacts"): Rule("read"),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Rule("read"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Rule("edit", mlflow_artifact),
    ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Rule("manage", mlflow_artifact),
    ("GET", "/api/3.0/mlflow/server-info"): Rule("read"),
    # -- users and tokens (a user lists, creates and revokes their own tokens: server/_users.py) --
    ("GET", f"{_V1}/users"): Rule("admin"),
    ("POST", f"{_V1}/users"): Rule("admin"),
    ("GET", f"{_V1}/users/{{name}}"): Rule("admin"),
    ("POST", f"{_V1}/users/{{name}}/disable"): Rule("admin"),
    ("POST", f"{_V1}/users/{{name}}/enable"): Rule("admin"),
    ("PUT", f"{_V1}/users/{{name}}/role"): Rule("admin"),
    ("POST", f"{_V1}/users/{{name}}/grants"): Rule("admin"),
    ("GET", f"{_V1}/users/{{name}}/grants"): Rule("admin"),
    ("DELETE", f"{_V1}/users/{{name}}/grants/{{resource_type}}/{{resource_id:path}}"): Rule("manage", granted),
    ("GET", f"{_V1}/me"): Rule("read"),
    ("GET", f"{_V1}/tokens"): Rule("read"),
    ("POST", f"{_V1}/tokens"): Rule("read"),
    ("DELETE", f"{_V1}/tokens/{{token_id}}"): Rule("read"),
}

_PARAM = re.compile(r"\{(\w+)(:path)?\}")


def _compile(template: str) -> re.Pattern[str]:
    out, last = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[last:m.start()]))
        out.append(f"(?P<{m.group(1)}>{'.*' if m.group(2) else '[^/]+'})")
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out) + "$")


_EXACT: dict[tuple[str, str], tuple[str, Rule]] = {}
_PATTERNS: list[tuple[str, re.Pattern[str], str, Rule]] = []
for (_method, _template), _rule in PERMISSIONS.items():
    if "{" in _template:
        _PATTERNS.append((_method, _compile(_template), _template, _rule))
    else:
        _EXACT[(_method, _template)] = (_template, _rule)


def match(method: str, path: str) -> tuple[str, Rule, dict[str, str]] | None:
    """The template, rule and path parameters of the request, or None for a route not in the table.

    Exact paths win over templates, as in both routers (``/experiments/by-name`` is not an id).
    """
    found = _EXACT.get((method, path))
    if found is not None:
        return found[0], found[1], {}
    for m, pattern, template, rule in _PATTERNS:
        if m == method:
            hit = pattern.match(path)
            if hit:
                return template, rule, hit.groupdict()
    return None
