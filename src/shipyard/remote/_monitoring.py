"""The MonitorStore interface over HTTP, for clients with ``SHIPYARD_URL`` set.

Monitors live under ``/api/v1/monitors``; series and labels under
``/api/v1/monitoring``. Large label uploads and request-id lookups are sent in
chunks, so no single request carries more than :data:`_CHUNK` labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson
import pandas as pd

from shipyard.alerting import Point
from shipyard.monitoring import _codec as codec
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.monitoring._labels import latest_labels, normalize_labels
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._pages import every_item

__all__ = ["RemoteMonitorStore"]

_MONITORS = "/api/v1/monitors"
_API = "/api/v1/monitoring"
_CHUNK = 50_000


def _q(text: str) -> str:
    return quote(text, safe="")


class RemoteMonitorStore:
    """:class:`~shipyard.monitoring._backend.MonitorStore` talking to ``shipyard server``."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        self._t = HttpTransport(url, token, timeout=300.0, retry=retry)

    def close(self) -> None:
        self._t.close()

    # -- monitors -------------------------------------------------------------------------

    def create_monitor(self, monitor: Monitor) -> Monitor:
        return codec.monitor_from_json(self._t.json("POST", _MONITORS, json=codec.monitor_to_json(monitor)))

    def get_monitor(self, name: str) -> Monitor:
        return codec.monitor_from_json(self._t.json("GET", f"{_MONITORS}/{_q(name)}"))

    def list_monitors(self) -> list[Monitor]:
        return [codec.monitor_from_json(m) for m in every_item(self._t, _MONITORS)]

    def delete_monitor(self, name: str) -> None:
        self._t.request("DELETE", f"{_MONITORS}/{_q(name)}")

    def commit(self, name: str, *, expect: tuple[int | None, int | None], windows: Sequence[MonitorWindow],
               points: Sequence[Point], cursor: int | None, label_watermark: int | None) -> Monitor:
        body = {"expect": list(expect), "windows": [codec.window_to_json(w) for w in windows],
                "points": [codec.point_to_json(p) for p in points], "cursor": cursor,
                "label_watermark": label_watermark}
        return codec.monitor_from_json(self._t.json("POST", f"{_MONITORS}/{_q(name)}/commit", json=body))

    def list_windows(self, name: str, *, since_ms: int | None = None, until_ms: int | None = None,
                     profiles: bool = False) -> list[MonitorWindow]:
        params: dict[str, Any] = {"profiles": str(profiles).lower()}
        if since_ms is not None:
            params["since_ms"] = since_ms
        if until_ms is not None:
            params["until_ms"] = until_ms
        return [codec.window_from_json(w) for w in every_item(self._t, f"{_MONITORS}/{_q(name)}/windows", params)]

    # -- series ---------------------------------------------------------------------------

    def write_points(self, points: Sequence[Point]) -> None:
        items = [codec.point_to_json(p) for p in points]
        for start in range(0, max(len(items), 1), _CHUNK):
            self._t.request("POST", f"{_API}/series", json={"points": items[start:start + _CHUNK]})

    def query_points(self, monitor: str | None = None, series: str | None = None, *,
                     since_ms: int | None = None, until_ms: int | None = None,
                     labels: Mapping[str, str] | None = None) -> list[Point]:
        params: dict[str, Any] = {}
        for key, value in (("monitor", monitor), ("series", series), ("since_ms", since_ms), ("until_ms", until_ms)):
            if value is not None:
                params[key] = value
        if labels:
            params["labels"] = orjson.dumps(dict(labels)).decode()
        return [codec.point_from_json(p) for p in every_item(self._t, f"{_API}/series", params)]

    def latest_points(self, monitor: str | None = None) -> list[Point]:
        params = {"monitor": monitor} if monitor is not None else {}
        return [codec.point_from_json(p) for p in every_item(self._t, f"{_API}/series/latest", params)]

    # -- labels ---------------------------------------------------------------------------

    def put_labels(self, labels: pd.DataFrame) -> int:
        frame = normalize_labels(labels)  # refuse bad input before sending anything
        total = 0
        for start in range(0, len(frame), _CHUNK):
            body = codec.labels_to_json(frame.iloc[start:start + _CHUNK])
            total += int(self._t.json("POST", f"{_API}/labels", json=body)["stored"])
        return total

    def get_labels(self, model: str, *, arrived_after: int | None = None,
                   request_ids: Sequence[str] | None = None) -> pd.DataFrame:
        body: dict[str, Any] = {"model": model, "arrived_after": arrived_after, "request_ids": None}
        if request_ids is None:
            return codec.labels_from_json(self._t.json("POST", f"{_API}/labels/query", json=body))
        ids = sorted(set(request_ids))
        parts = []
        for start in range(0, len(ids), _CHUNK):
            body["request_ids"] = ids[start:start + _CHUNK]
            parts.append(codec.labels_from_json(self._t.json("POST", f"{_API}/labels/query", json=body)))
        if not parts:
            return codec.labels_from_json({})
        # Chunks are disjoint by request id, so this only concatenates.
        return latest_labels(*parts) if len(parts) > 1 else parts[0]

    # -- segment index --------------------------------------------------------------------

    def segment_spans(self, digests: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        out: dict[str, tuple[int, int, int]] = {}
        wanted = sorted(set(digests))
        for start in range(0, len(wanted), _CHUNK):
            data = self._t.json("POST", f"{_API}/segments/query", json={"digests": wanted[start:start + _CHUNK]})
            out.update({d: (int(a), int(b), int(n)) for d, (a, b, n) in data["spans"].items()})
        return out

    def record_segment_spans(self, spans: Mapping[str, tuple[int, int, int]]) -> None:
        if spans:
            self._t.request("POST", f"{_API}/segments", json={"spans": {d: list(v) for d, v in spans.items()}})
