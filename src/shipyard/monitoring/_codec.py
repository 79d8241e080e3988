"""JSON form of monitoring entities, shared by the server and the remote client.

Label frames travel as columns (``{"request_id": [...], "row": [...], ...}``), which is
compact for the hundreds of thousands of labels a batch upload carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from shipyard.alerting import Point
from shipyard.errors import InvalidInput
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.monitoring._labels import empty_labels

__all__ = [
    "labels_from_json",
    "labels_to_json",
    "monitor_from_json",
    "monitor_to_json",
    "point_from_json",
    "point_to_json",
    "window_from_json",
    "window_to_json",
]


def _fields(data: Any, cls: type, what: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{what} must be a JSON object", field=what)
    known = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(f"{what}: unknown fields {unknown}", field=unknown[0])
    return dict(data)


def monitor_to_json(monitor: Monitor) -> dict[str, Any]:
    out = asdict(monitor)
    out["options"] = dict(monitor.options)
    return out


def monitor_from_json(data: Any) -> Monitor:
    try:
        return Monitor(**_fields(data, Monitor, "monitor"))
    except TypeError as exc:
        raise InvalidInput(f"monitor: {exc}", field="monitor") from None


def window_to_json(window: MonitorWindow) -> dict[str, Any]:
    return asdict(window)


def window_from_json(data: Any) -> MonitorWindow:
    try:
        return MonitorWindow(**_fields(data, MonitorWindow, "window"))
    except TypeError as exc:
        raise InvalidInput(f"window: {exc}", field="window") from None


def point_to_json(point: Point) -> list[Any]:
    """A compact list: a report's worth of points travels as lists, not objects."""
    return [point.monitor, point.series, point.window_start, point.window_end, point.value, dict(point.labels)]


def point_from_json(data: Any) -> Point:
    try:
        monitor, series, start, end, value, labels = data
    except (TypeError, ValueError):
        raise InvalidInput("a point is [monitor, series, window_start, window_end, value, labels]",
                           field="points") from None
    if not (isinstance(monitor, str) and isinstance(series, str) and isinstance(start, int)
            and isinstance(end, int) and (value is None or isinstance(value, int | float))
            and isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())):
        raise InvalidInput(f"malformed point {data!r}", field="points")
    return Point(monitor, series, start, end, None if value is None else float(value), labels)


def labels_to_json(frame: pd.DataFrame) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for column in frame.columns:
        values = frame[column].tolist()
        out[str(column)] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return out


def labels_from_json(data: Any) -> pd.DataFrame:
    if not isinstance(data, Mapping) or not all(isinstance(v, list) for v in data.values()):
        raise InvalidInput("labels must be an object of equally long column lists", field="labels")
    if len({len(v) for v in data.values()}) > 1:
        raise InvalidInput("label columns differ in length", field="labels")
    if not data or not next(iter(data.values())):
        frame = empty_labels()
        return frame[[c for c in frame.columns if c in data]] if data else frame
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    for column in ("row", "arrived_at"):
        if column in frame.columns and frame[column].notna().all():
            frame[column] = frame[column].astype(np.int64)
    return frame
