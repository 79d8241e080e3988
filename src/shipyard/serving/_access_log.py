"""Structured access logs: one JSON object per request, written in batches.

Lines are buffered and written with one ``write`` a few times a second (and at
shutdown), so logging costs the request path a dict and an ``orjson.dumps``, not a
system call. Each line::

    {"ts": "2026-11-02T10:00:00.123Z", "level": "info", "event": "request", "worker": "1",
     "request_id": "…", "method": "POST", "path": "/invocations", "status": 200,
     "latency_ms": 0.41, "model": "churn", "version": "3", "route": "production"}
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from datetime import UTC, datetime

import orjson

__all__ = ["AccessLog"]


class AccessLog:
    """Buffers JSON lines for file descriptor ``fd`` (stderr by default)."""

    def __init__(self, worker: str, fd: int = 2, interval_s: float = 0.2, max_lines: int = 2048) -> None:
        self.worker = worker
        self.fd = fd
        self.interval_s = interval_s
        self.max_lines = max_lines
        self._lines: list[bytes] = []
        self._stamp_ms = -1
        self._stamp = ""
        self._task: asyncio.Task[None] | None = None

    def log(self, request_id: str, method: str, path: str, status: int, latency_s: float,
            model: str, version: str, route: str) -> None:
        now_ms = time.time_ns() // 1_000_000
        if now_ms != self._stamp_ms:  # one ISO formatting per millisecond, not per request
            self._stamp_ms = now_ms
            self._stamp = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
        self._lines.append(orjson.dumps({
            "ts": self._stamp, "level": "warning" if status >= 500 else "info", "event": "request",
            "worker": self.worker, "request_id": request_id, "method": method, "path": path, "status": status,
            "latency_ms": round(latency_s * 1000, 3), "model": model, "version": version, "route": route,
        }, option=orjson.OPT_APPEND_NEWLINE))
        if len(self._lines) >= self.max_lines:
            self.flush()

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if lines:
            with contextlib.suppress(OSError):  # a closed stderr must not take serving down
                os.write(self.fd, b"".join(lines))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.flush()
