"""The online-store interface, entity-key encoding and the row format stores exchange.

An online store keeps, per view and entity key, the latest row: its event time
(integer microseconds since the epoch, UTC) and its feature values as one JSON
object. Writes never go back in time: a row replaces the stored one only when its
event time is at least the stored one's, so materializing overlapping intervals,
pushing fresh rows and re-running a materialization are all safe.

Entity keys are encoded to one string (:func:`encode_key`): the join-key values in
the view's key order, each as text (``5`` and ``"5"`` are the same key), joined by
the unit separator ``\\x1f``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["KEY_SEPARATOR", "PAYLOAD", "OnlineRows", "OnlineStore", "encode_key", "encode_payloads", "key_part", "pick"]

KEY_SEPARATOR = "\x1f"
#: The column of a write table that holds each row's features already encoded as JSON.
PAYLOAD = "__payload"


def key_part(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 5.0 from a float column names the same entity as 5
    if hasattr(value, "item"):  # numpy scalars
        return key_part(value.item())
    if value is None:
        raise InvalidInput("an entity key value is missing (null)", field="entity_rows")
    return str(value)


def encode_key(values: Sequence[Any]) -> str:
    """One entity key as text: the join-key values, in the view's key order."""
    if len(values) == 1:
        return key_part(values[0])
    return KEY_SEPARATOR.join(key_part(v) for v in values)


@dataclass
class OnlineRows:
    """The answer of :meth:`OnlineStore.read`: per key (in the order asked), the event time
    (µs, ``None`` where the key is not stored) and one list per feature."""

    event_ts: list[int | None]
    columns: dict[str, list[Any]]


@runtime_checkable
class OnlineStore(Protocol):
    """Latest feature values per (view, entity key), for low-latency lookups."""

    def write(self, view: str, rows: pa.Table) -> int:
        """Store rows: column ``key`` (encoded entity key), ``event_ts`` (int64 µs, UTC), then
        one column per feature, or one ``__payload`` column of JSON objects. Per key only a
        row at least as new as the stored one replaces it (see the module docstring).
        Returns the number of rows given."""
        ...

    def read(self, view: str, keys: Sequence[str], features: Sequence[str]) -> OnlineRows:
        """Values of ``features`` for ``keys`` (``None`` where absent), in the keys' order."""
        ...

    def delete_view(self, view: str) -> None:
        """Forget every row of ``view``."""
        ...

    def freshness(self, view: str) -> int | None:
        """The newest event time ever written for ``view`` (µs, UTC), or ``None``."""
        ...

    def close(self) -> None: ...


def encode_payloads(rows: pa.Table) -> tuple[list[str], list[int], list[bytes]]:
    """Split a write table into keys, event times and one JSON object per row."""
    import pyarrow as pa

    names = rows.column_names
    if names[:2] != ["key", "event_ts"]:
        raise InvalidInput(f"online rows start with columns key, event_ts; got {names[:2]}", field="rows")
    keys = rows.column(0).cast(pa.string()).to_pylist()
    ts = rows.column(1).cast(pa.int64()).to_pylist()
    if any(k is None for k in keys) or any(v is None for v in ts):
        raise InvalidInput("online rows need a key and an event time on every row", field="rows")
    if names[2:] == [PAYLOAD]:  # already encoded (materialization builds the JSON in DuckDB)
        return keys, ts, [p.encode() if isinstance(p, str) else p for p in rows.column(2).to_pylist()]
    features = names[2:]
    columns = []
    for name in features:
        col = rows.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("us", col.type.tz)).cast(pa.int64())
        columns.append(col.to_pylist())
    dumps = orjson.dumps
    payloads = [dumps(dict(zip(features, values, strict=True))) for values in zip(*columns, strict=True)] \
        if features else [b"{}"] * len(keys)
    return keys, ts, payloads


def pick(payloads: Sequence[bytes | None], features: Sequence[str]) -> dict[str, list[Any]]:
    """Columns of ``features`` from JSON payloads (``None`` payload: all values ``None``).

    All payloads are decoded in one call (joined into one JSON array), then the rows are
    transposed with ``itemgetter`` and ``zip`` (C loops); only a row missing a feature
    (one added since it was written) takes the slow path.
    """
    if not features:
        return {}
    if not payloads:
        return {f: [] for f in features}
    decoded = orjson.loads(b"[" + b",".join(b"null" if p is None else p for p in payloads) + b"]")
    empty = (None,) * len(features)
    # itemgetter of one name returns the value itself, of several a tuple: make both tuples.
    getter = itemgetter(*features) if len(features) > 1 else (lambda row, _f=features[0]: (row[_f],))
    rows = []
    for values in decoded:
        if values is None:
            rows.append(empty)
            continue
        try:
            rows.append(getter(values))
        except KeyError:
            rows.append(tuple(values.get(f) for f in features))
    return {f: list(col) for f, col in zip(features, zip(*rows, strict=True), strict=True)}
