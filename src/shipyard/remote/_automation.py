"""The AutomationStore interface over HTTP.

Policies live under ``/api/v1/automation/policies`` (applying is a POST of the policy's
JSON form), runs under ``/api/v1/automation/runs`` (approving and rejecting one are POSTs
to its ``approve`` and ``reject``), and exported labelled data's lineage is recorded at
``/api/v1/automation/exports``. The server names the authenticated user in the audit
log: no actor is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from shipyard.automation import Applied, AutomationPolicy, AutomationRun, Plan, PolicyVersion
from shipyard.errors import InvalidInput
from shipyard.registry import AuditEvent, codec
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._pages import every_item

__all__ = ["RemoteAutomationStore"]

_API = "/api/v1/automation"


def _name(name: str) -> str:
    return quote(name, safe="")


class RemoteAutomationStore:
    """:class:`~shipyard.automation.AutomationStore` talking to ``shipyard server``."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        self._t = HttpTransport(url, token, retry=retry)

    def close(self) -> None:
        self._t.close()

    def apply(self, policy: AutomationPolicy, actor: str | None = None) -> Applied:
        """``actor`` is ignored: the server records the user it authenticated."""
        if not isinstance(policy, AutomationPolicy):
            raise InvalidInput(f"expected an AutomationPolicy, got {type(policy).__name__}", field="policy")
        # Applying the same policy twice stores it once, so a retried POST changes nothing more.
        return Applied.from_json(self._t.json("POST", f"{_API}/policies", json=policy.to_json(), idempotent=True))

    def get_policy(self, name: str, version: int | None = None) -> PolicyVersion:
        params = {} if version is None else {"version": version}
        return PolicyVersion.from_json(self._t.json("GET", f"{_API}/policies/{_name(name)}", params=params))

    def plan(self, model: str) -> Plan:
        """What the controller would do now for registered model ``model`` (nothing is acted on)."""
        return Plan.from_json(self._t.json("GET", f"{_API}/plan/{_name(model)}"))

    def list_policies(self) -> list[PolicyVersion]:
        return [PolicyVersion.from_json(p) for p in every_item(self._t, f"{_API}/policies")]

    def policy_versions(self, name: str) -> list[PolicyVersion]:
        return [PolicyVersion.from_json(p) for p in every_item(self._t, f"{_API}/policies/{_name(name)}/versions")]

    def audit(self, name: str) -> list[AuditEvent]:
        return [codec.event_from_json(e) for e in every_item(self._t, f"{_API}/policies/{_name(name)}/audit")]

    def get_run(self, run_id: str) -> AutomationRun:
        return AutomationRun.from_json(self._t.json("GET", f"{_API}/runs/{_name(run_id)}"))

    def list_runs(self, policy: str | None = None, state: str | None = None) -> list[AutomationRun]:
        params = {k: v for k, v in (("policy", policy), ("state", state)) if v is not None}
        return [AutomationRun.from_json(r) for r in every_item(self._t, f"{_API}/runs", params)]

    def approve(self, run_id: str, reason: str, actor: str | None = None) -> AutomationRun:
        return self._decide(run_id, "approve", reason)

    def reject(self, run_id: str, reason: str, actor: str | None = None) -> AutomationRun:
        return self._decide(run_id, "reject", reason)

    def _decide(self, run_id: str, verb: str, reason: str) -> AutomationRun:
        data = self._t.json("POST", f"{_API}/runs/{_name(run_id)}/{verb}", json={"reason": reason})
        return AutomationRun.from_json(data)

    def record_export(self, dataset: str, version: int, model_versions: Sequence[tuple[str, int]],
                      monitors: Sequence[str]) -> None:
        body: dict[str, Any] = {"dataset": dataset, "version": int(version),
                                "model_versions": [{"name": n, "version": int(v)} for n, v in model_versions],
                                "monitors": list(monitors)}
        self._t.request("POST", f"{_API}/exports", json=body, idempotent=True)  # edges are recorded once
