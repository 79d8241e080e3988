"""The demo's last step: the web UI on the demo's stores, until Ctrl-C.

``shipyard server`` is started on loopback. A home with no users and no server token runs
open there (nothing beyond this machine can reach it), so the UI needs no sign-in, and
the demo leaves the home as it found it: creating a user would make every later
``shipyard server`` and ``shipyard serve`` of this home ask for sign-in.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

from rich.markup import escape

from shipyard.cli.demo.context import DemoState
from shipyard.cli.demo.serving import free_port, start_process, stop_process
from shipyard.cli.output import console

__all__ = ["serve_until_interrupted", "start_web_ui"]


def start_web_ui(state: DemoState) -> str:
    """``shipyard server`` on a free loopback port (kept in ``state.background``); its address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_process(["server", "--port", str(port)], f"{url}/api/v1/health", what="shipyard server")
    state.background.append(server)
    return url


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve_until_interrupted(state: DemoState) -> None:
    """Keep the processes in ``state.background`` until Ctrl-C or SIGTERM (or one of them exits),
    then stop them."""
    # A shell starting the demo in the background ignores SIGINT for it, and SIGTERM would end it
    # without stopping its servers: both end the wait here instead.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while all(process.poll() is None for process in state.background):
            time.sleep(0.5)
        gone = [p for p in state.background if p.poll() is not None]
        console.print(f"[yellow]{escape(_name(gone[0]))} exited with status {gone[0].returncode}[/yellow]")
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        stop_all(state)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_all(state: DemoState) -> None:
    """Stop every process the demo left running."""
    while state.background:
        stop_process(state.background.pop())


def _name(process: subprocess.Popen[Any]) -> str:
    args = process.args if isinstance(process.args, list) else [str(process.args)]
    return "shipyard " + str(args[3]) if len(args) > 3 else str(args)
