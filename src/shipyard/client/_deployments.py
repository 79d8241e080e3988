"""``client.deployments``: the ``shipyard serve`` processes registered in this configuration's store.

Each ``shipyard serve`` with a metadata store registers itself and heartbeats
(:mod:`shipyard.serving._registration`). Embedded, the registrations are read from the
database; remote, from the server's ``/api/v1/deployments``. Either way a deployment
is the JSON object that route answers: what is served, where, its state (``live`` or
``gone``) and its live figures.

>>> with Client() as client:                                  # doctest: +SKIP
...     [d["url"] for d in client.deployments.list_deployments(state="live")]
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shipyard.client._backend import Backend
from shipyard.serving._registration import RegistrationStore, check_state
from shipyard.timeutil import now_ms

__all__ = ["Deployments"]

_API = "/api/v1/deployments"


class Deployments:
    """Reads the registered serving processes of ``backend`` (nothing is opened until first use)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @property
    def store(self) -> RegistrationStore:
        """The registrations in the embedded metadata database (not for a remote client)."""
        from shipyard.serving._sql_registrations import SqlRegistrationStore

        return SqlRegistrationStore(self._backend.db)  # type: ignore[attr-defined]

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        from shipyard.remote import RetryPolicy
        from shipyard.remote._http import HttpTransport

        config = self._backend.config
        transport = HttpTransport(config.url or "", config.token, retry=RetryPolicy.from_config(config))
        try:
            return transport.json("GET", path, params=params)
        finally:
            transport.close()

    def list_deployments(self, state: str | None = None) -> list[dict[str, Any]]:
        """Every registered ``shipyard serve`` (``live`` or ``gone`` ones only, with ``state``),
        oldest start first, as ``GET /api/v1/deployments`` answers them."""
        check_state(state)
        if self._backend.remote:
            items: list[dict[str, Any]] = []
            params: dict[str, Any] = {"max_results": 1000, **({"state": state} if state else {})}
            while True:
                page = self._get(_API, params)
                items.extend(page["items"])
                if not page.get("next_page_token"):
                    return items
                params["page_token"] = page["next_page_token"]
        now = now_ms()
        return [r.to_json(now) for r in self.store.list() if state is None or r.state(now) == state]

    def get_deployment(self, id: str) -> dict[str, Any]:
        """One registered ``shipyard serve``; :class:`~shipyard.errors.NotFound` when there is none."""
        if self._backend.remote:
            result: dict[str, Any] = self._get(f"{_API}/{quote(id, safe='')}")
            return result
        return self.store.get(id).to_json()
