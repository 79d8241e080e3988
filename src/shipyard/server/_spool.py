"""Upload bodies spooled to a temporary file without blocking the event loop.

A body is kept in memory up to ``max_size`` bytes, where writing it costs nothing;
past that it goes to a temporary file on disk, and those writes (the copy to disk
included) run in the thread pool, a megabyte at a time, so a slow disk holds a pool
thread and never the loop that answers every other request.

>>> with await spool_body(request) as body:                     # doctest: +SKIP
...     await run_in_threadpool(store.put_stream, body, digest)
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

__all__ = ["SPOOL_MAX_BYTES", "spool_body"]

SPOOL_MAX_BYTES = 8 << 20  # bodies larger than this go to a temporary file, not memory
_DISK_WRITE_BYTES = 1 << 20  # once on disk, bytes gathered before one write in the pool


def _write_all(tmp: IO[bytes], chunks: list[bytes]) -> None:
    for chunk in chunks:
        tmp.write(chunk)


async def spool_body(request: Request, max_size: int = SPOOL_MAX_BYTES) -> tempfile.SpooledTemporaryFile[Any]:
    """The request's body in a ``SpooledTemporaryFile``, positioned at its start.

    The caller closes it (``with await spool_body(request) as body:``).
    """
    # Handed to the caller open: closed here only when reading the body fails.
    tmp: tempfile.SpooledTemporaryFile[Any] = tempfile.SpooledTemporaryFile(max_size=max_size)  # noqa: SIM115
    try:
        written, pending_size = 0, 0
        pending: list[bytes] = []
        async for chunk in request.stream():
            if written + pending_size + len(chunk) <= max_size:
                tmp.write(chunk)  # stays in memory: no I/O
                written += len(chunk)
                continue
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= _DISK_WRITE_BYTES:
                await run_in_threadpool(_write_all, tmp, pending)
                written, pending, pending_size = written + pending_size, [], 0
        if pending:
            await run_in_threadpool(_write_all, tmp, pending)
        tmp.seek(0)
    except BaseException:
        tmp.close()
        raise
    return tmp
