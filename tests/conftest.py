"""Fixtures shared across the test suite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

# Any local ray.init() writes ~/.ray/auth_token, and from then on Ray turns token
# authentication on for every `ray start` on this machine, which the tests' drivers do not
# present. The tests' clusters are private to loopback: authentication off, for this process
# and every process it starts.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

pytest_plugins = ["tests.services"]
pytest.register_assert_rewrite("shipyard.testing")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real moto S3 server on loopback, for this session (each xdist worker has its own).

    Yields the endpoint URL. Clients authenticate with any key and secret; nothing
    here touches ``os.environ``.
    """
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(endpoint, timeout=1):
                        break
                except urllib.error.HTTPError:  # any HTTP answer means it is up
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        output = log.read().decode(errors="replace")
                        pytest.fail(f"moto server did not start on {endpoint}:\n{output}")
                    time.sleep(0.05)
            yield endpoint
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
