"""The AlertStore interface over HTTP, plus evaluation on the server.

Rules live under ``/api/v1/alerts/rules``, alerts under ``/api/v1/alerts`` and the
history under ``/api/v1/alerts/history``. ``POST /api/v1/alerts/evaluate`` runs
the server's engine: its configuration holds the notifiers and their secrets.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shipyard.alerting import Alert, AlertEvent, AlertRule, HistoryEntry
from shipyard.remote._http import HttpTransport, RetryPolicy

__all__ = ["RemoteAlertStore"]

_API = "/api/v1/alerts"


class RemoteAlertStore:
    """:class:`~shipyard.alerting._backend.AlertStore` talking to ``shipyard server``."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        # Evaluation waits for notifications (each bounded by its notifier's timeout).
        self._t = HttpTransport(url, token, timeout=120.0, retry=retry)

    def close(self) -> None:
        self._t.close()

    def create_rule(self, rule: AlertRule, *, replace: bool = False) -> AlertRule:
        body = {**rule.to_json(), "replace": replace}
        return AlertRule.from_json(self._t.json("POST", f"{_API}/rules", json=body))

    def get_rule(self, name: str) -> AlertRule:
        return AlertRule.from_json(self._t.json("GET", f"{_API}/rules/{quote(name, safe='')}"))

    def list_rules(self) -> list[AlertRule]:
        return [AlertRule.from_json(r) for r in self._t.json("GET", f"{_API}/rules")["items"]]

    def delete_rule(self, name: str) -> None:
        self._t.request("DELETE", f"{_API}/rules/{quote(name, safe='')}")

    def list_alerts(self, state: str | None = None, rule: str | None = None) -> list[Alert]:
        params = {k: v for k, v in (("state", state), ("rule", rule)) if v is not None}
        return [Alert.from_json(a) for a in self._t.json("GET", _API, params=params)["items"]]

    def history(self, rule: str | None = None, fingerprint: str | None = None,
                limit: int = 100) -> list[HistoryEntry]:
        params: dict[str, Any] = {"limit": limit}
        params.update({k: v for k, v in (("rule", rule), ("fingerprint", fingerprint)) if v is not None})
        return [HistoryEntry.from_json(e) for e in self._t.json("GET", f"{_API}/history", params=params)["items"]]

    def evaluate(self, now_ms: int | None = None) -> list[AlertEvent]:
        """Have the server evaluate every rule; the transitions it claimed."""
        data = self._t.json("POST", f"{_API}/evaluate", json={"now_ms": now_ms})
        return [AlertEvent.from_json(e) for e in data["items"]]
