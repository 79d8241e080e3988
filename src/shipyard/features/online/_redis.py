"""The Redis online store (``redis://host:port/db``; the ``redis`` extra).

Layout, under a prefix per project (``shipyard`` unless the URL says
``?prefix=name``), so projects and tests sharing a server never meet:

* ``<prefix>:v:<view>:<key>`` → ``b"<event µs>|<JSON of the features>"``
* ``<prefix>:meta:<view>``    → hash ``newest`` = the newest event time written

A read is one ``MGET`` (one round trip for any number of keys). A write batch is
one Lua script call that, per key, keeps the newer row and raises ``newest``; the
script runs atomically in Redis, so concurrent writers cannot put an older row
over a newer one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shipyard.errors import InvalidInput, MissingExtra, StorageError, Unavailable
from shipyard.features.online._backend import OnlineRows, encode_payloads, pick

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["RedisOnlineStore"]

_BATCH = 2_000
# KEYS[1] = the meta hash, KEYS[2..] = value keys; ARGV = event µs, payload, event µs, payload…
_WRITE = """
local newest = tonumber(redis.call('HGET', KEYS[1], 'newest') or '-1')
for i = 2, #KEYS do
  local ts = tonumber(ARGV[2 * i - 3])
  local cur = redis.call('GET', KEYS[i])
  local keep = false
  if cur then
    local sep = string.find(cur, '|', 1, true)
    keep = tonumber(string.sub(cur, 1, sep - 1)) > ts
  end
  if not keep then redis.call('SET', KEYS[i], ARGV[2 * i - 3] .. '|' .. ARGV[2 * i - 2]) end
  if ts > newest then newest = ts end
end
redis.call('HSET', KEYS[1], 'newest', string.format('%.0f', newest))
return newest
"""


@contextmanager
def _translated() -> Iterator[None]:
    import redis

    try:
        yield
    except redis.ConnectionError as exc:
        raise Unavailable(f"Redis online store unreachable: {exc}") from exc
    except redis.TimeoutError as exc:
        raise Unavailable(f"Redis online store timed out: {exc}") from exc
    except redis.RedisError as exc:
        raise StorageError(f"Redis online store error: {exc}") from exc


def split_prefix(url: str) -> tuple[str, str]:
    """``(url without ?prefix=, prefix)``; the prefix defaults to ``shipyard``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((v for k, v in query if k == "prefix"), "shipyard")
    if not prefix or ":" in prefix:
        raise InvalidInput(f"the Redis key prefix must be non-empty and free of ':', got {prefix!r}",
                           field="online_store")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisOnlineStore:
    """:class:`~shipyard.features.online.OnlineStore` on a Redis server."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str | None = None) -> None:
        try:
            import redis
        except ImportError:
            raise MissingExtra("redis", "redis") from None
        self.url, url_prefix = split_prefix(url)
        self.prefix = prefix or url_prefix
        if ":" in self.prefix:
            raise InvalidInput(f"the Redis key prefix must be free of ':', got {self.prefix!r}", field="prefix")
        try:
            self._redis = redis.Redis.from_url(self.url, socket_timeout=10, socket_connect_timeout=5)
        except ValueError as exc:
            raise InvalidInput(f"not a Redis URL: {url!r} ({exc})", field="online_store") from None
        self._write_script: Any = None

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self.url!r}, prefix={self.prefix!r})"

    def _key(self, view: str, key: str) -> str:
        return f"{self.prefix}:v:{view}:{key}"

    def write(self, view: str, rows: pa.Table) -> int:
        keys, ts, payloads = encode_payloads(rows)
        with _translated():
            if self._write_script is None:
                self._write_script = self._redis.register_script(_WRITE)
            meta = f"{self.prefix}:meta:{view}"
            pipe = self._redis.pipeline(transaction=False)
            for start in range(0, len(keys), _BATCH):
                end = start + _BATCH
                args: list[Any] = []
                for stamp, payload in zip(ts[start:end], payloads[start:end], strict=True):
                    args += (stamp, payload)
                self._write_script(keys=[meta, *(self._key(view, k) for k in keys[start:end])], args=args,
                                   client=pipe)
            pipe.execute()
        return len(keys)

    def read(self, view: str, keys: Sequence[str], features: Sequence[str]) -> OnlineRows:
        if not keys:
            return OnlineRows([], {f: [] for f in features})
        prefix = f"{self.prefix}:v:{view}:"
        with _translated():
            raw = self._redis.mget([prefix + k for k in keys])
        stamps: list[int | None] = []
        payloads: list[bytes | None] = []
        value: bytes | None
        for value in raw:  # type: ignore[assignment]
            if value is None:
                stamps.append(None)
                payloads.append(None)
            else:
                stamp, _, payload = value.partition(b"|")
                stamps.append(int(stamp))
                payloads.append(payload)
        return OnlineRows(stamps, pick(payloads, features))

    def delete_view(self, view: str) -> None:
        with _translated():
            batch: list[bytes] = []
            for key in self._redis.scan_iter(match=f"{self.prefix}:v:{view}:*", count=1_000):
                batch.append(key)
                if len(batch) >= 1_000:
                    self._redis.unlink(*batch)
                    batch.clear()
            if batch:
                self._redis.unlink(*batch)
            self._redis.delete(f"{self.prefix}:meta:{view}")

    def sample_keys(self, view: str, n: int) -> list[str]:
        """Up to ``n`` stored entity keys of ``view``, drawn at random (what skew checks compare):
        one ``SCAN`` pass over the view's keys, reservoir-sampled."""
        import random

        prefix = f"{self.prefix}:v:{view}:"
        chosen: list[str] = []
        draw = random.Random()
        seen = 0
        with _translated():
            for raw in self._redis.scan_iter(match=prefix + "*", count=1_000):
                key = raw.decode()[len(prefix):]
                seen += 1
                if len(chosen) < n:
                    chosen.append(key)
                elif (slot := draw.randrange(seen)) < n:
                    chosen[slot] = key
        return chosen

    def freshness(self, view: str) -> int | None:
        with _translated():
            value = self._redis.hget(f"{self.prefix}:meta:{view}", "newest")
        return None if value is None or int(value) < 0 else int(value)

    def close(self) -> None:
        self._redis.close()
