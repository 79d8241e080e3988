"""A feature's reference distribution beside its current one, for ``GET /api/v1/monitors/{name}/distribution``.

The current side merges the stored profiles of the chosen windows (their numeric
histograms share the reference's bins, so merging is adding); the reference side is the
monitor's reference profile, read as the monitor itself reads it
(:func:`shipyard.monitoring._monitor.load_reference`).
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput, ShipyardError
from shipyard.monitoring._entities import Monitor
from shipyard.monitoring._monitor import load_reference
from shipyard.monitoring._profile import CategoricalSketch, ColumnSketch, WindowProfile
from shipyard.monitoring._sql_store import SqlMonitorStore

__all__ = ["MAX_WINDOWS", "compare_distributions", "sketch_to_json"]

MAX_WINDOWS = 5000  # merged in one answer; a longer period must be narrowed


def sketch_to_json(sketch: ColumnSketch | None) -> dict[str, Any] | None:
    """The wire form of one column's sketch (see ``ColumnDistribution``)."""
    if sketch is None:
        return None
    if isinstance(sketch, CategoricalSketch):
        return {"kind": "categorical", "count": sketch.count, "nulls": sketch.nulls,
                "categories": [[value, count] for value, count in sketch.counts], "other": sketch.other}
    h = sketch.histogram
    return {"kind": "numeric", "count": sketch.count, "nulls": sketch.nulls, "mean": sketch.mean,
            "edges": list(h.edges), "counts": list(h.counts), "below": h.below, "above": h.above}


def compare_distributions(monitor: Monitor, feature: str, store: SqlMonitorStore, datasets: Any, *,
                          since_ms: int | None, until_ms: int | None) -> dict[str, Any]:
    """The ``Distribution`` answer for ``feature`` of ``monitor`` over the windows ending in
    ``(since_ms, until_ms]``; more than :data:`MAX_WINDOWS` of them is refused naming ``since_ms``."""
    windows = store.list_windows(monitor.name, since_ms=since_ms, until_ms=until_ms, profiles=True,
                                 limit=MAX_WINDOWS + 1)
    if len(windows) > MAX_WINDOWS:
        raise InvalidInput(f"the period holds more than {MAX_WINDOWS} windows: narrow since_ms and until_ms",
                           field="since_ms")
    profiles = [WindowProfile.from_json(w.profile) for w in windows if w.profile]
    current = WindowProfile.merge_all(profiles) if profiles else None
    reference: WindowProfile | None = None
    error = None
    if monitor.reference:
        try:
            reference = load_reference(datasets, monitor.reference)
        except ShipyardError as exc:  # a reference deleted since: show the current side alone
            error = exc.message
    names = set(current.columns if current else ()) | set(reference.columns if reference else ())
    return {"monitor": monitor.name, "feature": feature, "features": sorted(names), "since_ms": since_ms,
            "until_ms": until_ms, "windows": len(windows),
            "reference": sketch_to_json(reference.columns.get(feature)) if reference else None,
            "reference_error": error,
            "current": sketch_to_json(current.columns.get(feature)) if current else None}
