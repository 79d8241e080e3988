"""The template: one pre-imported process that serving workers are forked from.

A fresh worker interpreter spends seconds importing (shipyard, numpy, pandas, uvicorn,
and the models' own libraries: scikit-learn alone takes 1-3 s) before it even opens
its stores. The supervisor therefore starts one template process
(``python -m shipyard.serving._template``) that imports all that once, then forks a
worker whenever asked: the fork starts with every module in place and only opens its
stores, loads its models and serves, so a replacement for a dead worker serves within
a fraction of a second. Once the first worker is ready, the supervisor hands the
template the list of modules that worker imported (the models' libraries among them)
and the template imports those too, one module at a time between commands, so a
fork asked for meanwhile waits for one import at most.

The protocol runs over two pipes the supervisor passes in, one line per message::

    supervisor → template   spawn <slot>          fork a worker for <slot>
                            preload <file>        import the modules named in <file>, one a line
    template → supervisor   pid <slot> <pid>      the worker forked (0: not forked, see below)
                            exit <pid> <status>   a worker ended (negative: killed by that signal)

The template forks only while it runs a single thread: a fork copies the calling thread
alone, and a lock another thread held would stay held in the child forever. If a
preloaded module started a thread, it answers ``pid <slot> 0`` and the supervisor
starts a fresh interpreter instead, as it does where there is no ``fork``/``pidfd_open``.
When the command pipe closes (the supervisor stops or dies) the template asks any worker
still running to stop (SIGTERM), waits for them to end and exits.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import select
import signal
import sys
import threading
import traceback
from collections import deque
from pathlib import Path

from shipyard.serving import _worker as worker

__all__ = ["main"]


def _listing(path: Path) -> deque[str]:
    """The modules named in ``path`` that are not imported yet, parents before their submodules."""
    try:
        names = path.read_text(encoding="utf-8").split()
    except OSError:
        return deque()
    return deque(sorted(n for n in names if n not in sys.modules and n != "__main__" and not n.startswith("shipyard")))


def _preload_one(todo: deque[str]) -> None:
    name = todo.popleft()
    if name not in sys.modules:
        with contextlib.suppress(Exception):  # a module that will not import here is imported by the worker
            importlib.import_module(name)


def _fork(state: Path, listen_fd: int, slot: str, supervisor: int, own_fds: tuple[int, ...]) -> int:
    if threading.active_count() > 1:
        return 0
    # What the template holds is never garbage: out of the collector's sight, a worker's
    # collections skip it (and do not write to pages it shares with the template).
    gc.collect()
    gc.freeze()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        for fd in own_fds:
            os.close(fd)
        for sig in (signal.SIGINT, signal.SIGUSR1, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        status = worker.main([str(state), str(listen_fd), slot], supervisor=supervisor)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the worker's failure is reported by its exit status
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _reap(reports: int) -> None:
    """Collect every worker that ended, and report it."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        with contextlib.suppress(OSError):  # the supervisor is gone: nobody to tell
            os.write(reports, f"exit {pid} {os.waitstatus_to_exitcode(status)}\n".encode())


def main(argv: list[str]) -> int:
    """``python -m shipyard.serving._template <state dir> <socket fd> <command fd> <report fd>``."""
    state, listen_fd, commands, reports = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    supervisor = os.getppid()
    # Ctrl-C reaches the whole process group; the supervisor decides what stops, and when.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    worker.preload(state)
    pending = b""
    todo: deque[str] = deque()  # modules to preload: one at a time, so a fork is never kept waiting long
    while True:
        readable, _, _ = select.select([commands], [], [], 0 if todo else 0.05)
        _reap(reports)
        if not readable:
            if todo:
                _preload_one(todo)
            continue
        chunk = os.read(commands, 65536)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            verb, _, rest = line.decode().partition(" ")
            if verb == "spawn":
                pid = _fork(state, listen_fd, rest, supervisor, (commands, reports))
                os.write(reports, f"pid {rest} {pid}\n".encode())
            elif verb == "preload":
                todo = _listing(Path(rest))
    # The supervisor has stopped its workers, or died without stopping them (killed, or a
    # container's PID 1 ending on SIGINT): a worker must never outlive its server, so each
    # one still running is asked to drain and stop (SIGTERM), and waited for.
    for pid in _children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)
    return 0


def _children() -> list[int]:
    """The live processes this one forked (its workers), from /proc; empty where there is none."""
    try:
        found = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in found.split()]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
