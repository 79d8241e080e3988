"""Which definition changes are incompatible, and whether references between definitions hold.

A change is *incompatible* when data or models built on the old definition would
silently mean something else under the new one: a feature's type changed, a
feature removed, a join key removed or changed, the event-timestamp column
changed. Adding features, changing the TTL, the description or tags is compatible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidInput, NotFound

__all__ = ["check_references", "incompatibilities"]

Spec = Mapping[str, Any]


def _keys(spec: Spec) -> list[str]:
    if spec["kind"] == "entity":
        return list(spec["join_keys"])
    return [k for e in spec.get("entities", []) for k in e["join_keys"]]


def incompatibilities(old: Spec, new: Spec) -> list[str]:
    """Human-readable incompatible changes from ``old`` to ``new`` (empty: compatible)."""
    kind, name = new["kind"], new["name"]
    out: list[str] = []
    if kind in ("entity", "feature_view"):
        removed = [k for k in _keys(old) if k not in _keys(new)]
        if removed:
            out.append(f"{kind} {name!r}: join key {', '.join(map(repr, removed))} removed")
        elif _keys(old) != _keys(new):
            out.append(f"{kind} {name!r}: join keys changed from {_keys(old)} to {_keys(new)}")
    if kind in ("feature_view", "on_demand_view"):
        old_f, new_f = old["features"], new["features"]
        for feature, dtype in old_f.items():
            if feature not in new_f:
                out.append(f"{kind} {name!r}: feature {feature!r} removed")
            elif new_f[feature] != dtype:
                out.append(f"{kind} {name!r}: feature {feature!r} changed type from {dtype} to {new_f[feature]}")
    if kind == "feature_view":
        old_ts, new_ts = old["source"]["timestamp"], new["source"]["timestamp"]
        if old_ts != new_ts:
            out.append(f"{kind} {name!r}: timestamp column changed from {old_ts!r} to {new_ts!r}")
    return out


def check_references(latest: Mapping[tuple[str, str], Spec]) -> None:
    """Every on-demand input names an existing view and feature; views and on-demand views
    do not share a name (references could not tell them apart)."""
    views = {name: spec for (kind, name), spec in latest.items() if kind == "feature_view"}
    for (kind, name), spec in latest.items():
        if kind != "on_demand_view":
            continue
        if name in views:
            raise InvalidInput(f"on-demand view {name!r} has the name of a feature view", field="name", name=name)
        for item in spec["inputs"]:
            if not isinstance(item, str):
                continue
            view, _, feature = item.partition(":")
            if view not in views:
                raise NotFound(f"on-demand view {name!r} reads {item!r}: no feature view {view!r}",
                               resource="feature_view", name=view)
            if feature not in views[view]["features"]:
                raise NotFound(f"on-demand view {name!r} reads {item!r}: view {view!r} has no feature "
                               f"{feature!r}", resource="feature", name=item)
