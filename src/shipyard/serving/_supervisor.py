"""The serving process tree: one supervisor, ``workers`` worker processes, one listening socket.

The supervisor binds the socket (so every worker accepts from the same backlog and
a dead worker loses only the connections it held), writes the pickled
``(ServeConfig, backend factory, feature lookup factory)`` into a private state directory, and starts each
worker as a fresh interpreter (``python -m shipyard.serving._worker``) that inherits
the socket. Then it watches them:

* a worker that dies is replaced (its last metrics are kept for the totals); one
  that dies three times in a row before ever becoming ready stops the server, with
  status 1 — a model that cannot load is not retried forever;
* ``SIGTERM``/``SIGINT``: every worker is asked to stop (uvicorn stops accepting,
  finishes in-flight requests, then the app drains its batchers and flushes the
  inference log); stragglers are killed after ``drain_timeout_s``;
* ``SIGUSR1`` (sent by a worker after ``POST /admin/reload``) is passed to every
  worker, so all of them re-resolve their aliases.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from shipyard.auth import check_bind
from shipyard.errors import ConfigError
from shipyard.serving._config import ServeConfig
from shipyard.serving._metrics import MetricsDirectory
from shipyard.serving._worker import SPEC_FILE

__all__ = ["Supervisor"]

logger = logging.getLogger("shipyard.serving")

_STARTUP_FAILURES = 3


class _Worker:
    __slots__ = ("process", "slot", "started")

    def __init__(self, slot: int, process: subprocess.Popen[bytes]) -> None:
        self.slot = slot
        self.process = process
        self.started = time.monotonic()

    @property
    def id(self) -> str:
        return f"{self.slot}-{self.process.pid}"


class Supervisor:
    """Runs a serving endpoint in worker processes; :meth:`run` blocks until it stops.

    ``backend_factory`` must be picklable (e.g. ``functools.partial(Client, config)``):
    each worker calls it to open its own stores. So must ``features`` (a
    :data:`~shipyard.serving._features.FeatureLookupFactory`), called in a worker when
    a served model declares features.
    """

    def __init__(self, config: ServeConfig, backend_factory: Callable[[], Any],
                 features: Callable[[], Any] | None = None) -> None:
        self.config = config
        self.backend_factory = backend_factory
        self.features = features
        self.state_dir: Path | None = None
        self.port: int | None = None
        self._workers: dict[int, _Worker] = {}
        self._stopping = False
        self._failures = 0

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, on_ready: Callable[[Supervisor], None] | None = None) -> int:
        """Serve until SIGTERM/SIGINT; return the exit status (0, or 1 if workers cannot start)."""
        config = self.config
        check_bind(config.host, config.token or ("users" if config.token_check else None), config.insecure)
        listener = _bind(config.host, config.port)
        self.port = listener.getsockname()[1]
        base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.state_dir = Path(tempfile.mkdtemp(prefix="shipyard-serve-", dir=base))
        (self.state_dir / "metrics").mkdir()
        spec = self.state_dir / SPEC_FILE
        with open(os.open(spec, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
            pickle.dump((config, self.backend_factory, self.features), handle)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
        status = 0
        announced = False
        try:
            for slot in range(config.workers):
                self._spawn(slot, listener)
            while not self._stopping:
                time.sleep(0.1)
                if self._reap(listener):
                    status = 1
                    break
                if not announced and self.ready_workers() >= config.workers:
                    announced = True
                    if on_ready is not None:
                        on_ready(self)
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            listener.close()
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return status

    def stop(self) -> None:
        self._stopping = True

    def ready_workers(self) -> int:
        assert self.state_dir is not None
        return sum((self.state_dir / f"ready-{w.process.pid}").exists() for w in self._workers.values())

    # -- workers --------------------------------------------------------------------------

    def _spawn(self, slot: int, listener: socket.socket) -> None:
        assert self.state_dir is not None
        fd = listener.fileno()
        process = subprocess.Popen(
            [sys.executable, "-m", "shipyard.serving._worker", str(self.state_dir), str(fd), str(slot)],
            pass_fds=(fd,),
        )
        self._workers[slot] = _Worker(slot, process)

    def _reap(self, listener: socket.socket) -> bool:
        """Replace dead workers; True when they keep failing to start."""
        assert self.state_dir is not None
        metrics = MetricsDirectory(self.state_dir / "metrics")
        for slot, worker in list(self._workers.items()):
            code = worker.process.poll()
            if code is None:
                continue
            was_ready = (self.state_dir / f"ready-{worker.process.pid}").exists()
            metrics.retire(worker.id)
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / f"ready-{worker.process.pid}").unlink()
            self._failures = 0 if was_ready else self._failures + 1
            if self._failures >= _STARTUP_FAILURES:
                print(f"shipyard serve: workers exit before becoming ready ({self._failures} times; "
                      f"last status {code}); stopping", file=sys.stderr, flush=True)
                return True
            print(f"shipyard serve: worker {worker.id} exited with status {code}; starting a new one",
                  file=sys.stderr, flush=True)
            self._spawn(slot, listener)
        return False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            assert self.state_dir is not None
            for worker in self._workers.values():  # a worker still starting has no handler yet
                if (self.state_dir / f"ready-{worker.process.pid}").exists():
                    with contextlib.suppress(ProcessLookupError):
                        worker.process.send_signal(signal.SIGUSR1)
            return
        self._stopping = True

    def _shutdown(self) -> None:
        for worker in self._workers.values():
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.drain_timeout_s + 5
        for worker in self._workers.values():
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}", field="port") from None
    listener.listen(4096)
    listener.set_inheritable(True)
    return listener
