"""A flood of requests at the door: refusals keep their connections, say when to return, and drop nothing admitted.

Refusals are answered on the connection they came on, never with ``Connection: close``:
measured with wrk at 4,096 connections (``benchmarks/serving.py --overload``), closing
refused connections and accepting new ones at a bounded rate left the clients' requests
queued in the kernel (refusal p99 6-8 s, goodput a third), and shrinking the listening
backlog as well sent them into TCP's SYN retries of 1, 3, 7 s (goodput a tenth). Under
a flood refusals are paced instead (:mod:`shipyard.serving._pacing`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

import shipyard
from shipyard.serving import BatchingConfig, InferenceLogConfig, make_serve_config
from shipyard.serving._worker import create_app

BODY = orjson.dumps({"inputs": [[1, 2, 3]]})


async def _post(app: Any) -> tuple[int, dict[bytes, bytes], bytes]:
    """One POST /invocations straight through the ASGI app; its status, headers and body."""
    scope = {"type": "http", "method": "POST", "path": "/invocations", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]}
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.Event().wait()  # the client sends nothing more
        raise AssertionError("unreachable")

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start, body = messages
    return start["status"], dict(start["headers"]), body["body"]


def test_a_flood_is_refused_on_open_connections_with_retry_after_and_every_admitted_request_is_answered(
        client: shipyard.Client) -> None:
    config = make_serve_config("models:/slow/1", max_queue=4, batching=BatchingConfig(enabled=False),
                               inference_log=InferenceLogConfig(enabled=False), access_log=False, gc_freeze=False)
    app = create_app(config, client)  # the slow model answers 20 requests a second, 4 admitted at most

    async def flood() -> tuple[list[tuple[int, dict[bytes, bytes], bytes]], float]:
        await app.startup()
        try:
            started = time.perf_counter()
            answers = await asyncio.gather(*(_post(app) for _ in range(600)))
            return answers, time.perf_counter() - started
        finally:
            await app.shutdown()

    answers, elapsed = asyncio.run(flood())
    ok = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 503]
    assert len(ok) + len(refused) == 600  # every request answered, 200 or 503
    assert 1 <= len(ok) <= 4 and all(orjson.loads(a[2])["predictions"] == [6] for a in ok)
    assert all(b"retry-after" in a[1] and b"connection" not in a[1] for a in refused)
    # Beyond a burst (50 at the floor of 1,000 a second), refusals went out in turn.
    assert elapsed >= 0.4
