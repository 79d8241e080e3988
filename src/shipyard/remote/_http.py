"""HTTP transport to ``shipyard server``: one place where httpx errors are translated and calls retried.

A call is retried only when repeating it cannot change the outcome: the idempotent
methods (GET, HEAD, OPTIONS, PUT, DELETE), a POST that carries an ``Idempotency-Key``
(the server answers a repeated key with the stored response instead of writing
again), and a POST its caller marks as a pure query. It is retried on a lost
connection or response, a timeout, 429 and 503, with capped exponential backoff and
jitter (``stamina``), waiting what a ``Retry-After`` header asks when it fits the
budget. Every other failure, and every failure of any other call, is raised at once.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import stamina

from shipyard.errors import (
    ConfigError,
    PermissionDenied,
    ShipyardError,
    StorageError,
    Unavailable,
    error_from_name,
)

if TYPE_CHECKING:
    from shipyard.config import Config

__all__ = ["IDEMPOTENCY_HEADER", "HttpTransport", "RetryPolicy", "new_idempotency_key"]

IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRY_STATUSES = frozenset({429, 503})
_RETRYING: ContextVar[bool] = ContextVar("shipyard_http_retrying", default=False)


class _RoutineRetries(logging.Filter):
    """stamina logs every retry it schedules at WARNING, which an unconfigured program prints.

    This transport's retries are routine (when every try fails, its error is what the
    caller sees), so their records are lowered to DEBUG: shown only where the ``stamina``
    logger is enabled for DEBUG (``logging.basicConfig(level=logging.DEBUG)``). Retries
    scheduled by other code keep stamina's level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _RETRYING.get() or record.msg != "stamina.retry_scheduled":
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger("stamina").isEnabledFor(logging.DEBUG)


logging.getLogger("stamina").addFilter(_RoutineRetries())


def new_idempotency_key() -> str:
    """A fresh key for one logical write; every retry of that write sends the same key."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries: at most ``attempts`` tries (1: never retry) within ``max_wait`` seconds.

    Waits grow from ``wait_initial`` by doubling, plus up to ``wait_jitter`` of random
    jitter, capped at ``wait_cap`` each. A ``Retry-After`` longer than the time left
    ends the retrying at once rather than sleeping past the budget.
    """

    attempts: int = 5
    max_wait: float = 30.0
    wait_initial: float = 0.1
    wait_cap: float = 5.0
    wait_jitter: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigError(f"retries must be an integer of at least 1, got {self.attempts!r}", field="retries")
        if not math.isfinite(self.max_wait) or self.max_wait < 0:
            raise ConfigError(f"retry_max_wait must be a non-negative number of seconds, got {self.max_wait!r}",
                              field="retry_max_wait")

    @classmethod
    def from_config(cls, config: Config) -> RetryPolicy:
        """The policy that ``Config.retries`` and ``Config.retry_max_wait`` describe."""
        return cls(attempts=config.retries, max_wait=config.retry_max_wait)


class _Transient(Exception):
    """A failure worth another try; carries the error to raise if no try is left."""

    def __init__(self, error: ShipyardError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class HttpTransport:
    """JSON requests against a Shipyard server; error bodies become Shipyard errors."""

    def __init__(
        self, url: str, token: str | None = None, timeout: float = 30.0, retry: RetryPolicy | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotency_key: str | None = None,
        idempotent: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request, retrying it when that is safe; raise the Shipyard error the server reported, if any.

        ``idempotency_key`` goes out as the ``Idempotency-Key`` header of every try and
        makes the call retryable; ``idempotent=True`` marks a POST that only reads.
        """
        headers = dict(kwargs.pop("headers", None) or {})
        if json is not None:
            kwargs["content"] = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        kwargs["headers"] = headers
        retryable = idempotent or idempotency_key is not None or method.upper() in _IDEMPOTENT_METHODS
        body = kwargs.get("content")
        rewind: int | None = None
        if body is not None and not isinstance(body, (bytes, str)):
            # A file-like body is consumed by the first try: retry only what can be re-read.
            try:
                rewind = body.tell() if body.seekable() else None
            except (AttributeError, OSError):
                rewind = None
            retryable = retryable and rewind is not None
        if not retryable or self.retry.attempts <= 1:
            try:
                return self._send(method, path, kwargs)
            except _Transient as exc:
                raise exc.error from exc.error.__cause__
        return self._send_with_retries(method, path, kwargs, rewind)

    def _send_with_retries(self, method: str, path: str, kwargs: dict[str, Any], rewind: int | None) -> httpx.Response:
        policy = self.retry
        deadline = time.monotonic() + policy.max_wait

        def backoff(exc: BaseException) -> bool | float:
            if not isinstance(exc, _Transient):
                return False
            if exc.retry_after is None:
                return True
            # Honour the server's wait, but never sleep past the budget.
            return exc.retry_after if time.monotonic() + exc.retry_after <= deadline else False

        retrying = _RETRYING.set(True)
        try:
            for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=policy.max_wait,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_cap,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    if rewind is not None:
                        kwargs["content"].seek(rewind)
                    return self._send(method, path, kwargs)
        except _Transient as exc:
            raise exc.error from exc.error.__cause__
        finally:
            _RETRYING.reset(retrying)
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        """One try: a transient failure raises :class:`_Transient`, any other a Shipyard error."""
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                httpx.WriteError) as exc:
            error = Unavailable(f"shipyard server at {self.url} unreachable: {exc}", url=self.url)
            error.__cause__ = exc
            raise _Transient(error) from exc
        except httpx.TimeoutException as exc:
            error = Unavailable(f"shipyard server at {self.url} timed out: {exc}", url=self.url)
            error.__cause__ = exc
            raise _Transient(error) from exc
        except httpx.HTTPError as exc:
            raise StorageError(f"request to {self.url} failed: {exc}", url=self.url) from exc
        if response.status_code >= 400:
            refusal = _error_from(response)
            if response.status_code in _RETRY_STATUSES:
                raise _Transient(refusal, _retry_after(response))
            raise refusal
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return orjson.loads(self.request(method, path, **kwargs).content)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), if it is readable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass  # not delta-seconds: the other form the header allows is an HTTP date
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_from(response: httpx.Response) -> ShipyardError:
    """The error the server reported, rebuilt by its class name; a 403 whose name this
    version does not know (an older server's ``Forbidden``) is a :class:`PermissionDenied`."""
    status = response.status_code
    try:
        body = orjson.loads(response.content)["error"]
        context = {k: v for k, v in body.items() if k not in ("code", "message")}
        error = error_from_name(body["code"], body["message"], status=status, **context)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        if status >= 500 or status == 429:
            return Unavailable(f"server answered {status}", status=status)
        cls = PermissionDenied if status == 403 else ShipyardError
        return cls(f"server answered {status}: {response.text[:200]}", status=status)
    if status == 403 and type(error) is ShipyardError:
        return PermissionDenied(error.message, **error.context)
    return error
