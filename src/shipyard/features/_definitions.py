"""Feature definitions: entities, feature views and on-demand feature views.

Definitions are plain value objects: constructing one checks its arguments and
does no I/O. Each turns into a JSON *spec* (:meth:`to_spec`) that the registry
stores, versions and compares; :func:`from_spec` turns a stored spec back into an
object.

>>> user = Entity("user", join_keys=["user_id"])
>>> view = FeatureView("user_stats", entities=[user],
...                    source=ParquetSource("stats/", timestamp="event_ts"),
...                    features={"avg_spend_7d": "float64", "orders_30d": "int64"}, ttl="7d")
>>> view.ttl_us // 86_400_000_000
7
>>> view.join_keys
['user_id']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from shipyard.errors import InvalidInput
from shipyard.features._sources import Source, source_from_spec
from shipyard.features._udf import FunctionRef

__all__ = [
    "FEATURE_TYPES",
    "Definition",
    "Entity",
    "FeatureView",
    "OnDemandFeatureView",
    "RequestField",
    "fingerprint",
    "from_spec",
    "parse_duration",
    "validate_identifier",
    "validate_name",
]

#: Feature types and the spellings accepted for them.
FEATURE_TYPES = ("float64", "float32", "int64", "int32", "bool", "string", "timestamp")
_ALIASES = {"float": "float64", "double": "float64", "int": "int64", "integer": "int64", "long": "int64",
            "str": "string", "text": "string", "boolean": "bool", "datetime": "timestamp"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,255}\Z")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d|w)\s*\Z")
_UNIT_US = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000,
            "d": 86_400_000_000, "w": 604_800_000_000}


def validate_name(name: Any, field: str = "name") -> str:
    """Names of entities and views: 1-256 letters, digits or ``_ - .`` (``:`` separates refs)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInput(f"{field} must be 1-256 letters, digits or _-. starting with a letter or digit, "
                           f"got {name!r}", field=field)
    return name


def validate_identifier(name: Any, field: str) -> str:
    """Feature names and join keys are identifiers: a letter or ``_``, then letters, digits, ``_``."""
    if not isinstance(name, str) or not _IDENT_RE.match(name):
        raise InvalidInput(f"{field} must be an identifier (letters, digits, _; not starting with a digit), "
                           f"got {name!r}", field=field)
    return name


def _dtype(value: Any, field: str) -> str:
    text = _ALIASES.get(str(value).lower(), str(value).lower()) if isinstance(value, str) else value
    if text not in FEATURE_TYPES:
        raise InvalidInput(f"{field} has unknown type {value!r}; use one of {', '.join(FEATURE_TYPES)}",
                           field=field)
    return str(text)


def parse_duration(value: Any, field: str = "ttl") -> int | None:
    """A duration in microseconds from ``"7d"``, ``"12h"``, ``"90s"``, a timedelta or seconds.

    ``None`` means no limit. Units: ``us ms s m h d w``.

    >>> parse_duration("1h30m".replace("1h30m", "90m"))
    5400000000
    """
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        us = value // dt.timedelta(microseconds=1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        us = int(value * 1_000_000)
    elif isinstance(value, str) and (match := _DURATION_RE.match(value)):
        us = int(float(match.group(1)) * _UNIT_US[match.group(2)])
    else:
        raise InvalidInput(f"{field} must be a duration such as '7d', '12h', '90s' or a timedelta, got {value!r}",
                           field=field)
    if us <= 0:
        raise InvalidInput(f"{field} must be positive, got {value!r}", field=field)
    return int(us)


def _str_list(values: Any, field: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInput(f"{field} must be a list of names, got {values!r}", field=field)
    out = [validate_identifier(v, field) for v in values]
    if not out:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(set(out)) != len(out):
        raise InvalidInput(f"{field} lists a name twice: {out}", field=field)
    return out


def _features(features: Any, field: str = "features") -> dict[str, str]:
    if not isinstance(features, Mapping) or not features:
        raise InvalidInput(f"{field} must be a non-empty mapping of name to type, got {features!r}", field=field)
    return {validate_identifier(k, field): _dtype(v, f"{field}.{k}") for k, v in features.items()}


def fingerprint(spec: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a spec: equal definitions have equal fingerprints."""
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, init=False)
class Entity:
    """Something features describe (a user, a merchant), identified by its join keys."""

    name: str
    join_keys: list[str]
    description: str | None

    kind = "entity"

    def __init__(self, name: str, join_keys: Sequence[str] | None = None, description: str | None = None) -> None:
        object.__setattr__(self, "name", validate_name(name))
        object.__setattr__(self, "join_keys", _str_list(join_keys if join_keys is not None else [name],
                                                        "join_keys"))
        object.__setattr__(self, "description", description)

    def to_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "join_keys": list(self.join_keys),
                "description": self.description}


@dataclass(frozen=True, init=False)
class FeatureView:
    """Typed features of some entities, read from a source with an event-timestamp column.

    ``ttl`` bounds how old a value may be and still count ("7d", a timedelta,
    seconds; ``None`` for no bound). ``online`` views are materialized to the
    online store. The source's ``created_timestamp`` column, when given, breaks
    ties between rows with the same event time (the latest created wins).
    """

    name: str
    entities: list[Entity]
    source: Source
    features: dict[str, str]
    ttl_us: int | None
    online: bool
    description: str | None
    tags: dict[str, str]

    kind = "feature_view"

    def __init__(self, name: str, entities: Sequence[Entity], source: Source, features: Mapping[str, str], *,
                 ttl: Any = None, online: bool = True, description: str | None = None,
                 tags: Mapping[str, str] | None = None) -> None:
        object.__setattr__(self, "name", validate_name(name))
        if isinstance(entities, Entity) or not entities or not all(isinstance(e, Entity) for e in entities):
            raise InvalidInput(f"entities of view {name!r} must be a non-empty list of Entity", field="entities")
        if not isinstance(source, Source):
            raise InvalidInput(f"source of view {name!r} must be a source (ParquetSource, CsvSource, ...), "
                               f"got {type(source).__name__}", field="source")
        feats = _features(features)
        keys = [k for e in entities for k in e.join_keys]
        if len(set(keys)) != len(keys):
            raise InvalidInput(f"entities of view {name!r} share a join key: {keys}", field="entities")
        reserved = set(keys) | {source.timestamp, source.created_timestamp}
        clash = sorted(set(feats) & reserved)
        if clash:
            raise InvalidInput(f"feature {clash[0]!r} of view {name!r} is also a join key or timestamp column",
                               field="features")
        object.__setattr__(self, "entities", list(entities))
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "ttl_us", parse_duration(ttl))
        object.__setattr__(self, "online", bool(online))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", {str(k): str(v) for k, v in (tags or {}).items()})

    @property
    def join_keys(self) -> list[str]:
        """Every join key of every entity, in order."""
        return [k for e in self.entities for k in e.join_keys]

    @property
    def ttl(self) -> dt.timedelta | None:
        return None if self.ttl_us is None else dt.timedelta(microseconds=self.ttl_us)

    def to_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name,
                "entities": [{"name": e.name, "join_keys": list(e.join_keys)} for e in self.entities],
                "source": self.source.to_spec(), "features": dict(self.features), "ttl_us": self.ttl_us,
                "online": self.online, "description": self.description, "tags": dict(self.tags)}


@dataclass(frozen=True)
class RequestField:
    """A value the caller supplies with each request (an on-demand view's input)."""

    name: str
    dtype: str = "float64"

    def __post_init__(self) -> None:
        validate_identifier(self.name, "request field")
        object.__setattr__(self, "dtype", _dtype(self.dtype, f"request field {self.name}"))


@dataclass(frozen=True, init=False)
class OnDemandFeatureView:
    """Features computed by ``fn`` from other features and request fields, offline and online alike.

    ``inputs``: feature references (``"user_stats:avg_spend_7d"``) and
    :class:`RequestField` s. ``fn`` takes a pandas DataFrame whose columns are the
    inputs (a feature under its own name, a request field under its name) and
    returns a DataFrame holding ``features``. It must be a module-level function:
    the registry stores where it lives and the sha256 of its source, never its
    bytes (see :mod:`shipyard.features._udf`).
    """

    name: str
    inputs: list[str | RequestField]
    features: dict[str, str]
    fn: Callable[[Any], Any] | None
    function: FunctionRef
    description: str | None
    tags: dict[str, str]

    kind = "on_demand_view"

    def __init__(self, name: str, inputs: Sequence[str | RequestField], features: Mapping[str, str],
                 fn: Callable[[Any], Any] | FunctionRef, *, description: str | None = None,
                 tags: Mapping[str, str] | None = None) -> None:
        from shipyard.features._refs import parse_ref

        object.__setattr__(self, "name", validate_name(name))
        if isinstance(inputs, (str, RequestField)) or not inputs:
            raise InvalidInput(f"inputs of on-demand view {name!r} must be a non-empty list", field="inputs")
        checked: list[str | RequestField] = []
        for item in inputs:
            if isinstance(item, RequestField):
                checked.append(item)
            elif isinstance(item, str):
                parse_ref(item)
                checked.append(item)
            else:
                raise InvalidInput(f"an input of {name!r} must be a 'view:feature' reference or a RequestField, "
                                   f"got {item!r}", field="inputs")
        names = [self._input_name(i) for i in checked]
        if len(set(names)) != len(names):
            raise InvalidInput(f"inputs of {name!r} repeat a name: {names}", field="inputs")
        object.__setattr__(self, "inputs", checked)
        object.__setattr__(self, "features", _features(features))
        if isinstance(fn, FunctionRef):
            object.__setattr__(self, "fn", None)
            object.__setattr__(self, "function", fn)
        else:
            object.__setattr__(self, "fn", fn)
            object.__setattr__(self, "function", FunctionRef.of(fn))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", {str(k): str(v) for k, v in (tags or {}).items()})

    @staticmethod
    def _input_name(item: str | RequestField) -> str:
        return item.name if isinstance(item, RequestField) else item.partition(":")[2]

    @property
    def feature_inputs(self) -> list[str]:
        """The ``view:feature`` references among the inputs."""
        return [i for i in self.inputs if isinstance(i, str)]

    @property
    def request_fields(self) -> list[RequestField]:
        return [i for i in self.inputs if isinstance(i, RequestField)]

    def resolve(self) -> Callable[[Any], Any]:
        """The function: the one given, or the stored reference loaded and its hash checked."""
        return self.fn if self.fn is not None else self.function.load()

    def to_spec(self) -> dict[str, Any]:
        inputs = [i if isinstance(i, str) else {"request": i.name, "dtype": i.dtype} for i in self.inputs]
        return {"kind": self.kind, "name": self.name, "inputs": inputs, "features": dict(self.features),
                "function": self.function.to_spec(), "description": self.description, "tags": dict(self.tags)}


Definition = Entity | FeatureView | OnDemandFeatureView


def from_spec(spec: Mapping[str, Any]) -> Definition:
    """The definition a stored spec describes (an on-demand function is loaded lazily)."""
    kind = spec.get("kind")
    try:
        if kind == "entity":
            return Entity(spec["name"], spec["join_keys"], spec.get("description"))
        if kind == "feature_view":
            entities = [Entity(e["name"], e["join_keys"]) for e in spec["entities"]]
            ttl = spec.get("ttl_us")
            return FeatureView(spec["name"], entities, source_from_spec(spec["source"]), spec["features"],
                               ttl=None if ttl is None else dt.timedelta(microseconds=ttl),
                               online=spec.get("online", True), description=spec.get("description"),
                               tags=spec.get("tags"))
        if kind == "on_demand_view":
            inputs = [i if isinstance(i, str) else RequestField(i["request"], i["dtype"]) for i in spec["inputs"]]
            return OnDemandFeatureView(spec["name"], inputs, spec["features"],
                                       FunctionRef.from_spec(spec["function"]),
                                       description=spec.get("description"), tags=spec.get("tags"))
    except (KeyError, TypeError) as exc:
        raise InvalidInput(f"malformed {kind or 'feature'} spec: missing or bad {exc}", field="spec") from None
    raise InvalidInput(f"unknown definition kind {kind!r}", field="kind")
