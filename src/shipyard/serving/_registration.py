"""Where each running ``shipyard serve`` says it is: its registration and heartbeat.

A serving supervisor with a metadata store registers itself once its workers are
ready (:class:`Heartbeat`): its URL, host, pid, start time and what it serves (models,
routes, the URIs behind them). Every ``interval_s`` the heartbeat refreshes the row with
a summary of the workers' metrics (:mod:`shipyard.serving._serve_stats`), which carries
the version each route serves now; on a clean stop the row is deleted. A process that
dies without stopping (``SIGKILL``, a lost host) leaves its row, which readers call
``gone`` once its heartbeat is :data:`GONE_AFTER` intervals late.

The store is a small interface (:class:`RegistrationStore`); its SQL implementation is
:class:`~shipyard.serving._sql_registrations.SqlRegistrationStore`.

>>> r = ServeRegistration("a1", "http://127.0.0.1:8080", "box", 42, 0, 2_000, 2_000, ())
>>> r.state(now=4_000), r.state(now=60_000)
('live', 'gone')
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shipyard.errors import InvalidInput, ShipyardError
from shipyard.serving._config import ServeConfig
from shipyard.serving._metrics import MetricsDirectory
from shipyard.serving._serve_stats import live_figures, summarize
from shipyard.timeutil import now_ms

__all__ = ["DEFAULT_INTERVAL_S", "GONE_AFTER", "STATES", "Heartbeat", "RegistrationStore", "ServeRegistration",
           "check_state", "metrics_summary", "served_models"]

logger = logging.getLogger("shipyard.serving")

DEFAULT_INTERVAL_S = 2.0
#: Heartbeat intervals without one after which a registration is called gone.
GONE_AFTER = 4
STATES = ("live", "gone")


@dataclass(frozen=True)
class ServeRegistration:
    """One running (or vanished) serving process.

    ``models`` is what it serves as configured: ``[{"name", "routes": [{"route", "uri",
    "weight"}], "shadow": {"route", "uri", "fraction"} | None}]``. ``stats`` and
    ``previous_stats`` are the last two heartbeats' metrics summaries (None before the
    first). Times are ms since the epoch.
    """

    id: str
    url: str
    host: str
    pid: int
    started_at: int
    heartbeat_at: int
    interval_ms: int
    models: Sequence[Mapping[str, Any]]
    stats: Mapping[str, Any] | None = None
    previous_stats: Mapping[str, Any] | None = field(default=None, repr=False)

    def state(self, now: int | None = None) -> str:
        """``live``, or ``gone`` once the heartbeat is :data:`GONE_AFTER` intervals late."""
        late = (now_ms() if now is None else now) - self.heartbeat_at
        return "gone" if late > GONE_AFTER * self.interval_ms else "live"

    def to_json(self, now: int | None = None) -> dict[str, Any]:
        """The wire form, seen at ``now``: the fields, the :meth:`state`, and ``live`` — the
        figures of the last two heartbeats (:func:`~shipyard.serving._serve_stats.live_figures`)."""
        return {"id": self.id, "url": self.url, "host": self.host, "pid": self.pid, "started_at": self.started_at,
                "heartbeat_at": self.heartbeat_at, "interval_ms": self.interval_ms, "state": self.state(now),
                "models": [dict(m) for m in self.models], "live": live_figures(self.stats, self.previous_stats)}


def check_state(state: Any) -> str | None:
    """``state`` if it is one of :data:`STATES` (or None), else :class:`InvalidInput` naming ``state``."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {list(STATES)}, got {state!r}", field="state")
    return state  # type: ignore[no-any-return]


class RegistrationStore(Protocol):
    """Registrations of serving processes (the SQL one: ``SqlRegistrationStore``)."""

    def register(self, registration: ServeRegistration) -> None:
        """Store ``registration``, replacing one of the same id."""
        ...

    def heartbeat(self, id: str, at: int, stats: Mapping[str, Any] | None) -> bool:
        """Refresh the heartbeat (and the stats, keeping the last ones as previous); False if
        the row is gone (removed by a clean-up: the caller registers again)."""
        ...

    def unregister(self, id: str) -> None:
        """Remove the registration (no error when absent)."""
        ...

    def get(self, id: str) -> ServeRegistration:
        """The registration ``id``; :class:`~shipyard.errors.NotFound` naming it when there is none."""
        ...

    def list(self) -> list[ServeRegistration]:
        """Every registration, live and gone, oldest start first."""
        ...


def served_models(config: ServeConfig) -> list[dict[str, Any]]:
    """What ``config`` serves, in the registration's ``models`` form."""
    out = []
    for model in config.models:
        shadow = model.shadow
        out.append({
            "name": model.name,
            "routes": [{"route": t.label, "uri": t.uri, "weight": t.weight} for t in model.targets],
            "shadow": None if shadow is None else {"route": shadow.label, "uri": shadow.uri,
                                                   "fraction": shadow.fraction},
        })
    return out


def metrics_summary(folder: Path, clock: Callable[[], int] = now_ms) -> dict[str, Any] | None:
    """The summary of the metrics the workers published into ``folder`` (None once it is gone)."""
    if not folder.is_dir():
        return None
    return summarize(MetricsDirectory(folder).collect(), at=clock())


def _public_host(host: str) -> str:
    """The host others reach a wildcard bind at: this machine's name."""
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


class Heartbeat:
    """Registers one serving process in ``store`` and keeps its row fresh until :meth:`stop`.

    :meth:`start` is handed the running supervisor (its ``port`` and its ``state_dir``,
    where the workers publish their metrics); each beat summarizes those metrics on the
    heartbeat's own thread. A store that fails (the database is busy or down) is logged
    and tried again at the next beat: serving never waits on it.

    >>> beat = Heartbeat(store, config)          # doctest: +SKIP
    >>> run(config, factory, on_ready=beat.start)  # doctest: +SKIP
    >>> beat.stop()                              # doctest: +SKIP
    """

    def __init__(self, store: RegistrationStore, config: ServeConfig, *, interval_s: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.config = config
        self.interval_s = interval_s
        self.clock = clock
        self.id = uuid.uuid4().hex
        self.port = 0
        self.sample: Callable[[], Mapping[str, Any] | None] = lambda: None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0

    def registration(self) -> ServeRegistration:
        host = _public_host(self.config.host)
        shown = f"[{host}]" if ":" in host else host
        now = self.clock()
        return ServeRegistration(self.id, f"http://{shown}:{self.port}", socket.gethostname(), os.getpid(),
                                 self._started_at or now, now, int(self.interval_s * 1000),
                                 served_models(self.config), self._sample())

    def _sample(self) -> Mapping[str, Any] | None:
        try:
            return self.sample()
        except Exception:  # a summary is a nicety: a failure to take one never stops the heartbeat
            logger.warning("could not summarize the serving metrics", exc_info=True)
            return None

    def start(self, supervisor: Any) -> Heartbeat:
        """Register ``supervisor`` (its ``port``, ``state_dir``) now and beat every ``interval_s``
        on a daemon thread."""
        self.port = int(supervisor.port)
        self.sample = functools.partial(metrics_summary, Path(supervisor.state_dir) / "metrics", self.clock)
        self._started_at = self.clock()
        self._beat(register=True)
        self._thread = threading.Thread(target=self._loop, name="shipyard-serve-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _beat(self, register: bool = False) -> None:
        try:
            if register or not self.store.heartbeat(self.id, self.clock(), self._sample()):
                self.store.register(self.registration())
        except ShipyardError as exc:
            logger.warning("could not record this server's heartbeat: %s", exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._beat()

    def stop(self) -> None:
        """Stop beating and remove the registration."""
        self._stop.set()
        if self._thread is None:
            return  # never registered
        self._thread.join(timeout=10)
        try:
            self.store.unregister(self.id)
        except ShipyardError as exc:
            logger.warning("could not remove this server's registration: %s", exc)
