"""A real Prometheus server for tests: scrapes given targets every second, answers queries.

The Debian package ``prometheus`` provides the binary (``scripts/services.sh`` installs it).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.services import free_port

__all__ = ["Prometheus", "running_prometheus", "wait_for"]

_CONFIG = """
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: {job}
    scrape_interval: 1s
    metrics_path: {path}
    static_configs: [{{targets: [{targets}]}}]
"""


def wait_for(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.2)


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr``; empty while Prometheus is not up or has no data."""
        try:
            data = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return []
        return data.get("data", {}).get("result", []) if data.get("status") == "success" else []

    def value(self, expr: str, timeout: float = 60) -> float:
        """The single value of ``expr``, waited for until Prometheus has scraped it."""
        wait_for(lambda: len(self.query(expr)) == 1, timeout)
        return float(self.query(expr)[0]["value"][1])


@contextlib.contextmanager
def running_prometheus(targets: list[str], workdir: Path, *, job: str = "shipyard",
                       path: str = "/metrics") -> Iterator[Prometheus]:
    """A Prometheus scraping ``targets`` (``host:port``) every second, stopped afterwards."""
    binary = shutil.which("prometheus")
    assert binary, "the Debian package 'prometheus' is needed (scripts/services.sh installs it)"
    config = workdir / "prometheus.yml"
    config.write_text(_CONFIG.format(job=job, path=path, targets=", ".join(f'"{t}"' for t in targets)))
    port = free_port()
    storage = tempfile.mkdtemp(dir=workdir)
    process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={storage}",
                                f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield Prometheus(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=30)
