"""The serving process tree: one supervisor, ``workers`` worker processes, one listening socket.

The supervisor binds the socket (so every worker accepts from the same backlog),
writes the pickled ``(ServeConfig, backend factory, feature lookup factory)`` into a
private state directory, and starts a template process
(:mod:`shipyard.serving._template`) that imports everything a worker needs once and
forks each worker, which inherits the socket (where ``fork`` or ``pidfd_open`` is
missing, or the template cannot fork, a worker is a fresh interpreter,
``python -m shipyard.serving._worker``). Then it watches them:

* a worker that dies is replaced at once, forked from the template, so the
  replacement serves as soon as it has loaded its models (a fraction of a second for
  a scikit-learn model, against seconds of imports for a fresh interpreter); its last
  metrics are kept for the totals. One that dies three times in a row before ever
  becoming ready stops the server, with status 1 — a model that cannot load is not
  retried forever;
* ``SIGTERM``/``SIGINT``: every worker is asked to stop (uvicorn stops accepting,
  finishes in-flight requests, then the app drains its batchers and flushes the
  inference log); stragglers are killed after ``drain_timeout_s``;
* ``SIGUSR1`` (sent by a worker after ``POST /admin/reload``) is passed to every
  worker, so all of them re-resolve their aliases.

What a dead worker loses: each worker owns the connections it accepted, and reads
their requests itself, so when one dies (``SIGKILL``, the OOM killer, a crash in
native code) the kernel resets those connections, and the requests it had read exist
nowhere else: nobody can answer or retry them. Lost are exactly the requests
sent on the dead worker's connections and not yet answered: at most one per
connection it held for a client that waits for each answer before sending the next
(every HTTP/1.1 client that does not pipeline), which includes the requests it had
admitted (at most ``max_queue`` per model). Nothing else is lost: connections still
waiting in the shared backlog, and every connection of the other workers, are served
as usual, and a client's next connection is accepted by a live worker at once.
Inference requests are idempotent, so a client should retry one that fails with a
reset or closed connection (``httpx`` and ``requests`` report it as a read or remote
protocol error). A front process that owned the connections could retry them itself,
but every request would then be read, forwarded and answered by two Python processes
instead of one; it is not done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
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
from shipyard.serving._worker import SPEC_FILE, modules_file

__all__ = ["Supervisor"]

logger = logging.getLogger("shipyard.serving")

_STARTUP_FAILURES = 3
# Forking workers from a template needs fork, and pidfds to watch processes that are not our children.
_CAN_FORK = hasattr(os, "fork") and hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal")


class _Worker:
    """A worker process: a child of ours (``process``), or forked by the template
    (watched through a pidfd; its exit status comes from the template)."""

    __slots__ = ("pid", "pidfd", "process", "slot", "started", "status")

    def __init__(self, slot: int, pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
        self.slot = slot
        self.pid = pid
        self.process = process
        self.pidfd: int | None = None
        self.status: int | None = None
        if process is None:
            with contextlib.suppress(ProcessLookupError):  # already gone: the template reports its status
                self.pidfd = os.pidfd_open(pid)
        self.started = time.monotonic()

    @property
    def id(self) -> str:
        return f"{self.slot}-{self.pid}"

    def ended(self) -> bool:
        if self.process is not None:
            return self.process.poll() is not None
        return self.pidfd is None or bool(select.select([self.pidfd], [], [], 0)[0])

    def exit_status(self) -> int | str:
        if self.process is not None:
            return self.process.returncode
        return "unknown" if self.status is None else self.status

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.process is not None:
                self.process.send_signal(signum)
            elif self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signum)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class _Template:
    """The supervisor's end of the template's pipes (:mod:`shipyard.serving._template`)."""

    def __init__(self, state: Path, listener: socket.socket) -> None:
        commands_read, self._commands = os.pipe()
        self._reports, reports_write = os.pipe()
        fd = listener.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shipyard.serving._template", str(state), str(fd), str(commands_read),
             str(reports_write)], pass_fds=(fd, commands_read, reports_write))
        os.close(commands_read)
        os.close(reports_write)
        os.set_blocking(self._reports, False)
        self._pending = b""
        self.statuses: dict[int, int] = {}  # pid -> exit status, as reported
        self.preloaded = False

    def _send(self, line: str) -> bool:
        try:
            os.write(self._commands, f"{line}\n".encode())
        except OSError:
            return False
        return True

    def read(self, timeout: float = 0.0) -> list[list[str]]:
        """Reports that arrived (``exit`` ones are also recorded in ``statuses``)."""
        lines: list[list[str]] = []
        if select.select([self._reports], [], [], timeout)[0]:
            with contextlib.suppress(BlockingIOError):
                chunk = os.read(self._reports, 65536)
                self._pending += chunk if chunk else b""
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            words = line.decode().split()
            if len(words) == 3 and words[0] == "exit":
                self.statuses[int(words[1])] = int(words[2])
            lines.append(words)
        return lines

    def fork(self, slot: int, timeout: float = 30.0) -> int:
        """The pid of a worker forked for ``slot``; 0 if the template cannot fork."""
        if self.process.poll() is not None or not self._send(f"spawn {slot}"):
            return 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for words in self.read(timeout=0.05):
                if words[:2] == ["pid", str(slot)]:
                    return int(words[2])
            if self.process.poll() is not None:
                return 0
        return 0

    def preload(self, listing: Path) -> None:
        self.preloaded = self._send(f"preload {listing}")

    def close(self, timeout: float) -> None:
        os.close(self._commands)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._reports)


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
        self._template: _Template | None = None
        self._stopping = False
        self._failures = 0

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, on_ready: Callable[[Supervisor], None] | None = None) -> int:
        """Serve until SIGTERM/SIGINT; return the exit status (0, or 1 if workers cannot start)."""
        config = self.config
        check_bind(config.host, config.token, config.insecure, users=config.token_check is not None)
        listener = bind_listener(config.host, config.port)
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
            if _CAN_FORK:
                self._template = _Template(self.state_dir, listener)
            for slot in range(config.workers):
                self._spawn(slot, listener)
            while not self._stopping:
                self._wait(0.1)
                if self._reap(listener):
                    status = 1
                    break
                self._preload()
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
        return sum((self.state_dir / f"ready-{w.pid}").exists() for w in self._workers.values())

    def worker_pids(self) -> list[int]:
        """The process ids of the current workers, by slot."""
        return [self._workers[slot].pid for slot in sorted(self._workers)]

    # -- workers --------------------------------------------------------------------------

    def _spawn(self, slot: int, listener: socket.socket) -> None:
        assert self.state_dir is not None
        pid = self._template.fork(slot) if self._template is not None else 0
        if pid:
            self._workers[slot] = _Worker(slot, pid)
            return
        fd = listener.fileno()
        process = subprocess.Popen(
            [sys.executable, "-m", "shipyard.serving._worker", str(self.state_dir), str(fd), str(slot)],
            pass_fds=(fd,),
        )
        self._workers[slot] = _Worker(slot, process.pid, process)

    def _wait(self, timeout: float) -> None:
        """Sleep up to ``timeout``, waking early when a worker ends (or the template reports)."""
        watched = [w.pidfd for w in self._workers.values() if w.pidfd is not None]
        if self._template is not None:
            self._template.read()  # record what has arrived; the pidfds say who ended
        if watched:
            select.select(watched, [], [], timeout)
        else:
            time.sleep(timeout)

    def _preload(self) -> None:
        """Once a worker is ready, have the template import what that worker imported."""
        template = self._template
        if template is None or template.preloaded:
            return
        assert self.state_dir is not None
        for worker in self._workers.values():
            listing = modules_file(self.state_dir, worker.pid)
            if listing.exists():
                template.preload(listing)
                return

    def _reap(self, listener: socket.socket) -> bool:
        """Replace dead workers; True when they keep failing to start."""
        assert self.state_dir is not None
        metrics = MetricsDirectory(self.state_dir / "metrics")
        for slot, worker in list(self._workers.items()):
            if not worker.ended():
                continue
            if self._template is not None:
                self._template.read(timeout=0.2 if worker.pid not in self._template.statuses else 0)
                worker.status = self._template.statuses.pop(worker.pid, None)
            worker.close()
            code = worker.exit_status()
            was_ready = (self.state_dir / f"ready-{worker.pid}").exists()
            metrics.retire(worker.id)
            for leftover in (self.state_dir / f"ready-{worker.pid}", modules_file(self.state_dir, worker.pid)):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            self._failures = 0 if was_ready else self._failures + 1
            if self._failures >= _STARTUP_FAILURES:
                print(f"shipyard serve: workers exit before becoming ready ({self._failures} times; "
                      f"last status {code}); stopping", file=sys.stderr, flush=True)
                del self._workers[slot]
                return True
            print(f"shipyard serve: worker {worker.id} exited with status {code}; starting a new one",
                  file=sys.stderr, flush=True)
            self._spawn(slot, listener)
        return False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            assert self.state_dir is not None
            for worker in self._workers.values():  # a worker still starting has no handler yet
                if (self.state_dir / f"ready-{worker.pid}").exists():
                    worker.signal(signal.SIGUSR1)
            return
        self._stopping = True

    def _shutdown(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.drain_timeout_s + 5
        while any(not w.ended() for w in workers) and time.monotonic() < deadline:
            self._wait(0.05)
        for worker in workers:
            if not worker.ended():
                worker.signal(signal.SIGKILL)
            if worker.process is not None:
                worker.process.wait()
            worker.close()
        if self._template is not None:
            self._template.close(timeout=10)
            self._template = None


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, inheritable by workers; ConfigError naming the
    address when it is taken or the host does not resolve."""
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
