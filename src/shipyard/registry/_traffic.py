"""A registered model's live traffic split: which aliases answer what share, and which one shadows.

The split is kept with the registered model, as the reserved tag :data:`TRAFFIC_TAG`
holding the canonical JSON of a :class:`TrafficSplit`; only
:meth:`~shipyard.registry._sql_store.SqlRegistryStore.set_traffic` writes it, checking
that every alias named exists, appending an audit event (``set_traffic``, before and
after) and bumping the registry generation in one transaction. ``shipyard serve``
follows it for a model served through one of its aliases: routes are added, removed and
reweighted, and the shadow set or cleared, while requests keep being answered.

The JSON form::

    {"routes": {"production": 90, "challenger": 10},
     "shadow": {"alias": "challenger", "fraction": 1.0}}

Weights are percentages (each 0-100, together 100); the shadow ``fraction`` (0-1) of
requests is copied to the shadow alias, whose answers are logged, never returned.

>>> split = TrafficSplit.from_json({"routes": {"production": 90, "challenger": 10}})
>>> split.to_tag()
'{"routes":{"challenger":10,"production":90}}'
>>> TrafficSplit.from_json({"routes": {"production": 101}})
Traceback (most recent call last):
...
shipyard.errors.InvalidInput: routes.production must be a number from 0 to 100, got 101
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.registry._entities import RegisteredModel, validate_alias

__all__ = ["TRAFFIC_TAG", "TrafficSplit"]

TRAFFIC_TAG = "shipyard.traffic"
"""The registered-model tag holding the traffic split (written only through ``set_traffic``)."""

_TOTAL = 100.0


def _number(value: Any, path: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low <= value <= high:
        raise InvalidInput(f"{path} must be a number from {low:g} to {high:g}, got {value!r}", field=path)
    return float(value)


def _alias(value: Any, path: str) -> str:
    try:
        return validate_alias(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}", field=path) from None


def _keys(data: Any, path: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{path} must be a mapping, got {type(data).__name__}", field=path)
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise InvalidInput(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(known)})",
                           field=f"{path}.{unknown[0]}" if path != "traffic" else unknown[0])
    return data


def _plain(value: float) -> int | float:
    return int(value) if value.is_integer() else value


@dataclass(frozen=True)
class TrafficSplit:
    """``routes``: alias → percent of requests (each 0-100, together 100); ``shadow``: the alias
    that receives a copy of ``shadow_fraction`` (0-1) of requests, or None.

    Construction checks every value; :meth:`check_aliases` checks the aliases exist.
    """

    routes: Mapping[str, float]
    shadow: str | None = None
    shadow_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.routes, Mapping) or not self.routes:
            raise InvalidInput("routes must name at least one alias and its percent", field="routes")
        routes = {_alias(a, f"routes.{a}"): _number(w, f"routes.{a}", 0, _TOTAL) for a, w in self.routes.items()}
        total = sum(routes.values())
        if abs(total - _TOTAL) > 1e-6:
            raise InvalidInput(f"routes must add up to 100 percent, got {total:g}", field="routes")
        object.__setattr__(self, "routes", dict(sorted(routes.items())))
        if self.shadow is None:
            if self.shadow_fraction:
                raise InvalidInput("shadow.fraction needs shadow.alias", field="shadow.alias")
        else:
            object.__setattr__(self, "shadow", _alias(self.shadow, "shadow.alias"))
            object.__setattr__(self, "shadow_fraction", _number(self.shadow_fraction, "shadow.fraction", 0, 1))

    # -- forms ---------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Any) -> TrafficSplit:
        """Read the JSON form strictly: unknown keys and bad values raise ``InvalidInput`` naming the field."""
        data = _keys(data, "traffic", ("routes", "shadow"))
        if "routes" not in data:
            raise InvalidInput("traffic needs routes: {alias: percent}", field="routes")
        routes = data["routes"]
        if not isinstance(routes, Mapping):
            raise InvalidInput(f"routes must be a mapping of alias to percent, got {type(routes).__name__}",
                               field="routes")
        shadow = data.get("shadow")
        if shadow is None:
            return cls(dict(routes))
        shadow = _keys(shadow, "shadow", ("alias", "fraction"))
        if "alias" not in shadow:
            raise InvalidInput("shadow needs an alias", field="shadow.alias")
        return cls(dict(routes), shadow["alias"], shadow.get("fraction", 1.0))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"routes": {a: _plain(w) for a, w in self.routes.items()}}
        if self.shadow is not None:
            out["shadow"] = {"alias": self.shadow, "fraction": _plain(self.shadow_fraction)}
        return out

    def to_tag(self) -> str:
        """The canonical JSON kept in :data:`TRAFFIC_TAG` (sorted keys, no spaces)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def of(cls, model: RegisteredModel) -> TrafficSplit | None:
        """The split kept with ``model``, or None when it has none."""
        text = model.tags.get(TRAFFIC_TAG)
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidInput(f"model {model.name!r} holds a malformed traffic split", field="traffic") from None
        return cls.from_json(data)

    # -- building and checking -------------------------------------------------------------

    @classmethod
    def canary(cls, champion: str, challenger: str, percent: float, *, shadow_fraction: float = 0.0) -> TrafficSplit:
        """``percent`` of requests to alias ``challenger``, the rest to ``champion``; with a
        ``shadow_fraction``, the challenger also shadows that share of the champion's requests."""
        percent = _number(percent, "percent", 0, _TOTAL)
        routes = {champion: _TOTAL - percent, challenger: percent} if percent else {champion: _TOTAL}
        if shadow_fraction:
            return cls(routes, challenger, shadow_fraction)
        return cls(routes)

    @property
    def aliases(self) -> list[str]:
        """Every alias the split names (routes, then the shadow)."""
        names = list(self.routes)
        if self.shadow is not None and self.shadow not in names:
            names.append(self.shadow)
        return names

    def check_aliases(self, model: RegisteredModel) -> None:
        """Refuse (``InvalidInput`` naming the field) an alias ``model`` does not have."""
        for alias in self.routes:
            if alias not in model.aliases:
                raise InvalidInput(f"model {model.name!r} has no alias {alias!r}", field=f"routes.{alias}")
        if self.shadow is not None and self.shadow not in model.aliases:
            raise InvalidInput(f"model {model.name!r} has no alias {self.shadow!r}", field="shadow.alias")
