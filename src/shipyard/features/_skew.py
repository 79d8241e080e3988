"""Training/serving skew: do the online values equal what the offline path computes as of now?

:func:`check_skew` takes a sample of entities of one feature view — keys drawn at
random from the online store, and keys drawn from the view's source that have a
value within the TTL as of now — and for each entity asks both paths:

* **offline**: :meth:`FeatureStore.get_historical_features` with the timestamp *now*
  (the point-in-time join that builds training sets: latest value at or before now,
  within the TTL, ties broken by created time);
* **online**: :meth:`FeatureStore.get_online_features` (what serving reads, TTL
  applied).

An entity is *present* on a side when at least one of its features is non-null
there. Entities present on both sides are compared feature by feature; the others
are reported as missing online (never materialized, or materialized before the
source gained them) or missing offline (pushed but absent from the source, or
expired). Numbers match when ``|offline - online| <= tolerance * max(1, |offline|)``
(absolute below 1, relative above); other values (strings, booleans, timestamps)
must be equal; a null on one side only is a mismatch.

Keys are sampled online through the online store's ``sample_keys(view, n)``
(SQLite and Redis have it); a store without it (a remote one) is checked on the
offline sample alone.

Running it on a schedule: it is a plain function of a store, so a scheduler face
calls it every interval and stores or alerts on :meth:`SkewReport.to_dict`
(``mismatch_rate`` per feature, the missing counts)::

    report = check_skew(client.features, "user_stats", sample=500)
    if not report.ok:
        notify(report.to_dict())

>>> report = check_skew(store, "user_stats", sample=1000)   # doctest: +SKIP
>>> report.features["avg_spend_7d"].mismatch_rate           # doctest: +SKIP
0.0
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.errors import InvalidInput
from shipyard.features._definitions import FeatureView
from shipyard.features.online._backend import KEY_SEPARATOR, encode_key

if TYPE_CHECKING:
    from shipyard.features._duck import ViewRelation
    from shipyard.features._store import FeatureStore

__all__ = ["Difference", "FeatureSkew", "KeySampler", "SkewReport", "check_skew"]

_AT = "__skew_at"
_EXAMPLES = 10


class KeySampler(Protocol):
    """An online store that can draw stored entity keys of a view (encoded, see ``encode_key``)."""

    def sample_keys(self, view: str, n: int) -> list[str]: ...


@dataclass(frozen=True)
class Difference:
    """One entity whose feature differs: its key, both values, and ``|offline - online|`` for numbers."""

    entity: dict[str, Any]
    offline: Any
    online: Any
    difference: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "offline": _jsonable(self.offline), "online": _jsonable(self.online),
                "difference": self.difference}


@dataclass(frozen=True)
class FeatureSkew:
    """One feature's comparison over the entities present on both sides; ``largest`` first."""

    name: str
    dtype: str
    compared: int
    mismatches: int
    largest: list[Difference] = field(default_factory=list)

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "compared": self.compared, "mismatches": self.mismatches,
                "mismatch_rate": self.mismatch_rate, "largest": [d.to_dict() for d in self.largest]}


@dataclass(frozen=True)
class SkewReport:
    """The outcome of :func:`check_skew` for one view.

    ``missing_online`` / ``missing_offline`` count the entities present on one side
    only; ``*_examples`` show up to ten of their keys.
    """

    view: str
    checked_at: dt.datetime
    tolerance: float
    sampled_online: int
    sampled_offline: int
    compared: int
    missing_online: int
    missing_offline: int
    features: dict[str, FeatureSkew]
    missing_online_examples: list[dict[str, Any]] = field(default_factory=list)
    missing_offline_examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        """Feature values that differ, over every feature."""
        return sum(f.mismatches for f in self.features.values())

    @property
    def ok(self) -> bool:
        """No value differs and no sampled entity is missing on either side."""
        return self.mismatches == 0 and self.missing_online == 0 and self.missing_offline == 0

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view, "checked_at": self.checked_at.isoformat(), "tolerance": self.tolerance,
                "ok": self.ok, "sampled_online": self.sampled_online, "sampled_offline": self.sampled_offline,
                "compared": self.compared, "missing_online": self.missing_online,
                "missing_offline": self.missing_offline, "missing_online_examples": self.missing_online_examples,
                "missing_offline_examples": self.missing_offline_examples,
                "features": {name: f.to_dict() for name, f in self.features.items()}}

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        summary = (f"view [bold]{self.view}[/bold] at {self.checked_at:%Y-%m-%d %H:%M:%S} UTC: "
                   f"{self.compared} entities compared (sampled {self.sampled_online} online, "
                   f"{self.sampled_offline} offline); missing online {self.missing_online}, "
                   f"missing offline {self.missing_offline}")
        features = Table(title="per feature", header_style="bold")
        for column in ("feature", "type", "compared", "mismatches", "rate"):
            features.add_column(column, justify="right" if column in ("compared", "mismatches", "rate") else "left")
        largest = Table(title="largest differences", header_style="bold")
        for column in ("feature", "entity", "offline", "online", "difference"):
            largest.add_column(column, overflow="fold")
        for f in self.features.values():
            style = "red" if f.mismatches else "green"
            features.add_row(f.name, f.dtype, str(f.compared), f"[{style}]{f.mismatches}[/{style}]",
                             f"{f.mismatch_rate:.2%}")
            for d in f.largest:
                largest.add_row(f.name, _entity_text(d.entity), _text(d.offline), _text(d.online),
                                "-" if d.difference is None else f"{d.difference:.6g}")
        parts: list[Any] = [summary, features]
        if largest.row_count:
            parts.append(largest)
        for label, examples in (("missing online", self.missing_online_examples),
                                ("missing offline", self.missing_offline_examples)):
            if examples:
                parts.append(f"{label}, e.g. " + "; ".join(_entity_text(e) for e in examples))
        return Group(*parts)

    def print(self, console: Any = None) -> None:
        """Print the report as rich tables (to ``console``, default stdout)."""
        if console is None:
            from rich.console import Console

            console = Console()
        console.print(self)


def check_skew(store: FeatureStore, view: str, *, sample: int = 1000,
               entities: Sequence[Mapping[str, Any]] | None = None, tolerance: float = 1e-9,
               top: int = 5) -> SkewReport:
    """Compare ``view``'s online values with its offline values as of now; see the module docs.

    ``sample`` keys are drawn online and as many offline; ``entities`` (rows of join
    keys) checks exactly those instead. ``top`` differences are kept per feature.
    """
    _check_arguments(sample, tolerance)
    found = _feature_view(store, view)
    now_us = time.time_ns() // 1_000
    checked_at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=now_us)
    rel, rows, sampled_online, sampled_offline = _entities(store, found, view, sample, entities, now_us)
    entity_rows = _unique(rows, found.join_keys)
    features = list(found.features)
    if not entity_rows:
        return SkewReport(view, checked_at, float(tolerance), sampled_online, sampled_offline, 0, 0, 0,
                          {f: FeatureSkew(f, found.features[f], 0, 0) for f in features})
    refs = [f"{view}:{f}" for f in features]
    offline = _offline_values(store, rel, entity_rows, refs, features, checked_at)
    online = store.get_online_features(refs, entity_rows).to_dict()
    online_values = {f: [_plain(v) for v in online[f]] for f in features}
    both, only_off, only_on = _by_presence(entity_rows, offline, online_values, features)
    skews = {f: _compare(f, found.features[f], both, entity_rows, offline[f], online_values[f], float(tolerance),
                         top) for f in features}
    return SkewReport(view, checked_at, float(tolerance), sampled_online, sampled_offline, len(both),
                      len(only_off), len(only_on), skews, only_off[:_EXAMPLES], only_on[:_EXAMPLES])


def _check_arguments(sample: int, tolerance: float) -> None:
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 1:
        raise InvalidInput(f"sample must be a positive integer, got {sample!r}", field="sample")
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool) or not tolerance >= 0:
        raise InvalidInput(f"tolerance must be a number >= 0, got {tolerance!r}", field="tolerance")


def _feature_view(store: FeatureStore, view: str) -> FeatureView:
    found = store.get_view(view)
    if not isinstance(found, FeatureView):
        raise InvalidInput(f"{view!r} is an on-demand view: check the feature views it reads", field="view")
    return found


# -- sampling ------------------------------------------------------------------------------


def _entities(store: FeatureStore, found: FeatureView, view: str, sample: int,
              entities: Sequence[Mapping[str, Any]] | None,
              now_us: int) -> tuple[ViewRelation, list[dict[str, Any]], int, int]:
    """The view's source relation and the entities to check, with how many keys were sampled
    online and offline: ``entities`` when given (nothing sampled), else the two samples."""
    from shipyard.features._duck import view_relation

    keys = found.join_keys
    ctx = store._context()
    try:
        rel = view_relation(ctx, found)
        if entities is not None:
            return rel, [_entity_row(e, keys) for e in entities], 0, 0
        sampler = getattr(store.online, "sample_keys", None)
        online_keys = sampler(view, sample) if sampler is not None else []
        rows = [row for row in (_decode(k, keys, rel) for k in online_keys) if row is not None]
        offline_rows = _offline_sample(ctx, rel, sample, now_us)
        return rel, rows + offline_rows, len(online_keys), len(offline_rows)
    finally:
        ctx.con.close()


def _unique(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` without repeated entities (the first of each kept, in order)."""
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(encode_key([row[k] for k in keys]), row)
    return list(unique.values())


def _entity_row(entity: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    if not isinstance(entity, Mapping):
        raise InvalidInput(f"entities must be mappings of join keys such as {{{keys[0]!r}: 5}}", field="entities")
    missing = [k for k in keys if entity.get(k) is None]
    if missing:
        raise InvalidInput(f"an entity has no join key {missing[0]!r}", field=missing[0])
    return {k: _plain(entity[k]) for k in keys}


def _decode(key: str, keys: Sequence[str], rel: ViewRelation) -> dict[str, Any] | None:
    """An encoded online key back into typed join-key values (the source's types)."""
    from shipyard.features._duck import family

    parts = key.split(KEY_SEPARATOR) if len(keys) > 1 else [key]
    if len(parts) != len(keys):
        return None  # a key value holding the separator itself: cannot be told apart
    row: dict[str, Any] = {}
    for name, text in zip(keys, parts, strict=True):
        kind = family(rel.types[name])
        if kind == "int":
            try:
                row[name] = int(text)
            except ValueError:
                row[name] = text  # not a key the source can hold: reported missing offline
        elif kind == "bool":
            row[name] = text == "true"
        else:
            row[name] = text
    return row


def _bound(rel: ViewRelation, us: int) -> str:
    return f"CAST(make_timestamp({us}) AS TIMESTAMPTZ)" if rel.aware else f"make_timestamp({us})"


def _offline_sample(ctx: Any, rel: ViewRelation, n: int, now_us: int) -> list[dict[str, Any]]:
    """Up to ``n`` entities with a source row at or before now (and within the TTL)."""
    from shipyard.features._sources import quote

    view = rel.view
    keys = ", ".join(quote(k) for k in view.join_keys)
    ts = quote(view.source.timestamp)
    where = [f"{quote(k)} IS NOT NULL" for k in view.join_keys] + [f"{ts} <= {_bound(rel, now_us)}"]
    if view.ttl_us is not None:
        where.append(f"{ts} >= {_bound(rel, now_us - view.ttl_us)}")
    sql = (f"SELECT * FROM (SELECT DISTINCT {keys} FROM {rel.sql} WHERE {' AND '.join(where)}) "
           f"USING SAMPLE {int(n)} ROWS")
    cursor = ctx.con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [{k: _plain(v) for k, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _offline_values(store: FeatureStore, rel: ViewRelation, rows: list[dict[str, Any]], refs: list[str],
                    features: list[str], at: dt.datetime) -> dict[str, list[Any]]:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=rel.view.join_keys)
    stamp = pd.Timestamp(at) if rel.aware else pd.Timestamp(at.replace(tzinfo=None))
    frame[_AT] = pd.Series([stamp] * len(frame), dtype=f"datetime64[us{', UTC' if rel.aware else ''}]")
    table = store.get_historical_features(frame, refs, timestamp=_AT).to_pandas()
    return {f: [_plain(v) for v in table[f].tolist()] for f in features}


# -- comparing -----------------------------------------------------------------------------


def _by_presence(rows: list[dict[str, Any]], offline: Mapping[str, list[Any]], online: Mapping[str, list[Any]],
                 features: list[str]) -> tuple[list[int], list[dict[str, Any]], list[dict[str, Any]]]:
    """The indexes of the entities present on both sides, then the entities present offline
    only and online only (present: at least one feature non-null on that side)."""
    on_present = [any(online[f][i] is not None for f in features) for i in range(len(rows))]
    off_present = [any(offline[f][i] is not None for f in features) for i in range(len(rows))]
    both = [i for i in range(len(rows)) if on_present[i] and off_present[i]]
    only_off = [rows[i] for i in range(len(rows)) if off_present[i] and not on_present[i]]
    only_on = [rows[i] for i in range(len(rows)) if on_present[i] and not off_present[i]]
    return both, only_off, only_on


def _compare(name: str, dtype: str, both: list[int], rows: list[dict[str, Any]], offline: list[Any],
             online: list[Any], tolerance: float, top: int) -> FeatureSkew:
    numeric = dtype in ("float64", "float32", "int64", "int32")
    differences: list[Difference] = []
    for i in both:
        a, b = offline[i], online[i]
        if a is None and b is None:
            continue
        if a is None or b is None:
            differences.append(Difference(rows[i], a, b, None))
        elif numeric:
            diff = abs(float(a) - float(b))
            if diff > tolerance * max(1.0, abs(float(a))):
                differences.append(Difference(rows[i], a, b, diff))
        elif a != b:
            differences.append(Difference(rows[i], a, b, None))
    # A value on one side only is the widest gap; then the largest numeric differences.
    differences.sort(key=lambda d: math.inf if d.difference is None else d.difference, reverse=True)
    return FeatureSkew(name, dtype, len(both), len(differences), differences[:top])


def _plain(value: Any) -> Any:
    """A comparable Python value: None for every kind of null, instants as aware UTC datetimes."""
    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    elif hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value.__class__.__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # naive times are UTC throughout the store
    return value


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def _text(value: Any) -> str:
    if value is None:
        return "null"
    return f"{value:.6g}" if isinstance(value, float) else str(_jsonable(value))


def _entity_text(entity: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in entity.items())
