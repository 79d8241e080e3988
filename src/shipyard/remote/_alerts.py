"""The AlertStore interface over HTTP, plus evaluation on the server.

Rules live under ``/api/v1/alerts/rules``, alerts under ``/api/v1/alerts`` and the
history under ``/api/v1/alerts/history``. ``POST /api/v1/alerts/evaluate`` runs
the server's engine: its configuration holds the notifiers and their secrets.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shipyard.alerting import Alert, AlertEvent, AlertRule, HistoryEntry
from shipyard.alerting._backend import MAX_HISTORY
from shipyard.errors import InvalidInput
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._pages import every_item

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
        return [AlertRule.from_json(r) for r in every_item(self._t, f"{_API}/rules")]

    def delete_rule(self, name: str) -> None:
        self._t.request("DELETE", f"{_API}/rules/{quote(name, safe='')}")

    def list_alerts(self, state: str | None = None, rule: str | None = None) -> list[Alert]:
        params = {k: v for k, v in (("state", state), ("rule", rule)) if v is not None}
        return [Alert.from_json(a) for a in every_item(self._t, _API, params)]

    def history(self, rule: str | None = None, fingerprint: str | None = None,
                limit: int = 100) -> list[HistoryEntry]:
        """The newest ``limit`` entries: one page of the server's history."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY:
            raise InvalidInput(f"limit must be 1 to {MAX_HISTORY}, got {limit!r}", field="limit")
        params: dict[str, Any] = {"max_results": limit}
        params.update({k: v for k, v in (("rule", rule), ("fingerprint", fingerprint)) if v is not None})
        return [HistoryEntry.from_json(e) for e in self._t.json("GET", f"{_API}/history", params=params)["items"]]

    def evaluate(self, now_ms: int | None = None) -> list[AlertEvent]:
        """Have the server evaluate every rule; the transitions it claimed."""
        data = self._t.json("POST", f"{_API}/evaluate", json={"now_ms": now_ms})
        return [AlertEvent.from_json(e) for e in data["items"]]
