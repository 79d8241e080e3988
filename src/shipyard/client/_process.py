"""One client per process, for services that hand factories to worker processes.

Serving is handed two factories — of the backend its workers read models through,
and of the feature lookup for models that declare features — and calls them in each
worker. Bound to one :class:`ProcessClient`, they share the worker's one
:class:`~shipyard.client.Client`: a worker opens one set of connections, however many
of its parts ask. Only the configuration travels to the worker (the factories are
pickled together, so they arrive bound to the same object there).

>>> shared = ProcessClient(load_config())                                           # doctest: +SKIP
>>> shipyard.serving.run(serve_config, shared.client, features=shared.feature_lookup)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from shipyard.client._client import Client
from shipyard.config import Config

if TYPE_CHECKING:
    from shipyard.features import OnlineLookup

__all__ = ["ProcessClient"]


class ProcessClient:
    """Makes the process's :class:`Client` of ``config`` on first use; picklable."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._client: Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ProcessClient({self.config.url or self.config.database_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}  # a client never travels: each process makes its own

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config = state["config"]
        self._client = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        """This process's client (made on the first call; the caller closes it)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = Client(self.config)
        return self._client

    def feature_lookup(self) -> OnlineLookup:
        """Serving's feature lookup over the feature store of this process's client."""
        from shipyard.features import OnlineLookup

        return OnlineLookup(self.client().features)
