"""Demo stage: serve the production model, send it traffic that drifts, post the ground truth.

The server is the real ``shipyard serve`` in its own process on a free loopback
port, with the inference log on; stopping it flushes the log, which monitoring reads.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import numpy as np
from rich.progress import Progress

from shipyard.cli.demo.context import DemoState, make_data
from shipyard.cli.output import console
from shipyard.errors import ShipyardError

__all__ = ["free_port", "serve_and_send_traffic", "start_process", "stop_process"]


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(args: list[str], ready_url: str, *, token: str | None = None,
                  what: str = "shipyard serve") -> subprocess.Popen[bytes]:
    """``shipyard <args>`` in its own process on this home, once ``ready_url`` answers 200.

    ``token`` becomes the process's ``SHIPYARD_TOKEN``: its requests then need it as a
    bearer, which they do anyway once the home has users (so the demo works on either)."""
    command = [sys.executable, "-c", "from shipyard.cli import main; main()", *args]
    env = {**os.environ, **({"SHIPYARD_TOKEN": token} if token else {})}
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            message = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise ShipyardError(f"{what} exited with status {server.returncode}: {message[-2000:]}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise ShipyardError(f"{what} did not become ready within 60 s")


def stop_process(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean stop writes the inference log's last segment), SIGKILL after 30 s."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()


def _send(http: httpx.Client, model: str, frame: Any, labels: np.ndarray, prefix: str, progress: Progress,
          task: Any) -> list[dict[str, Any]]:
    """Send ``frame`` one row per request (as a live service sees it), asking for the class
    probabilities too (they let monitoring estimate accuracy before labels arrive); return
    each request's label."""
    feedback: list[dict[str, Any]] = []
    for i, row in enumerate(frame.to_numpy().tolist()):
        request_id = f"{prefix}-{i}"
        response = http.post(f"/v2/models/{model}/infer", headers={"x-request-id": request_id}, json={
            "inputs": [{"name": "input", "shape": [1, len(row)], "datatype": "FP64", "data": row}],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}]})
        response.raise_for_status()
        feedback.append({"request_id": request_id, "label": int(labels[i])})  # ground truth, arriving later
        progress.advance(task)
    return feedback


def serve_and_send_traffic(state: DemoState, requests: int = 800) -> None:
    """Serve ``models:/<name>@production``, send a normal day then a shifted one, post labels."""
    uri = f"models:/{state.model_name}@production"
    port = free_port()
    started = time.perf_counter()
    server = start_process(["serve", uri, "--port", str(port), "--no-access-log"],
                           f"http://127.0.0.1:{port}/v2/health/ready", token=state.token)
    console.print(f"serving {uri} on http://127.0.0.1:{port} (ready in {time.perf_counter() - started:.1f} s)")
    rows = requests // 2
    normal, normal_y = make_data(state.rng, n=rows)
    shifted, shifted_y = make_data(state.rng, n=rows, shift=1.5)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=state.auth_headers()) as http, \
                Progress(console=console) as progress:
            task = progress.add_task("requests", total=2 * rows)
            began = time.perf_counter()
            state.served["started_ms"] = int(time.time() * 1000)
            feedback = _send(http, state.model_name, normal, normal_y, "normal", progress, task)
            feedback += _send(http, state.model_name, shifted, shifted_y, "shifted", progress, task)
            elapsed = time.perf_counter() - began
            http.post("/v1/feedback", json={"labels": feedback}).raise_for_status()
            metrics = http.get("/metrics").text
    finally:
        stop_process(server)
    served = [line for line in metrics.splitlines()
              if line.startswith("shipyard_requests_total") and f'model="{state.model_name}"' in line]
    console.print(f"sent {len(feedback)} single-row requests (the second half with the first five "
                  f"features shifted by 1.5σ) in {elapsed:.2f} s, posted {len(feedback)} labels; "
                  f"the server counted: {served[0] if served else 'n/a'}")
    state.served.update(uri=uri, requests=len(feedback), ended_ms=int(time.time() * 1000))
