"""The interface every monitoring backend implements (SQL in-process, or HTTP to a server).

A :class:`MonitorStore` keeps monitor definitions, the results of their windows (as
:class:`~shipyard.alerting._series.Point` time series, plus each window's status and
stored profile) and ground-truth labels uploaded in batches. Computing a window
happens in the caller (:func:`~shipyard.monitoring._monitor.run_monitor`); the store
only commits, and :meth:`MonitorStore.commit` is what makes every window computed
once: it applies only if the monitor's cursor and label watermark are still what
the caller read, so of two runners racing on the same window one commits and the
other gets :class:`~shipyard.errors.Conflict`.

Time filters on points and windows read ``since_ms < window_end <= until_ms``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from shipyard.alerting import Point
from shipyard.monitoring._entities import Monitor, MonitorWindow

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LABEL_COLUMNS", "MonitorStore"]

#: Columns of a label frame as stored and returned (``row`` -1: every row of the request;
#: ``model`` "": any model; ``arrived_at``: ms, set by the store).
LABEL_COLUMNS = ("model", "request_id", "row", "label", "arrived_at")


@runtime_checkable
class MonitorStore(Protocol):
    """Monitors, their window results, and batch-uploaded labels.

    Its series methods are the :class:`~shipyard.alerting._series.SeriesStore` contract
    alerting reads window results through.
    """

    # -- monitors -------------------------------------------------------------------------

    def create_monitor(self, monitor: Monitor) -> Monitor:
        """Store a new monitor (``AlreadyExists`` if the name is taken); returns it as stored."""
        ...

    def get_monitor(self, name: str) -> Monitor:
        """The monitor called ``name``, or ``NotFound``."""
        ...

    def list_monitors(self) -> list[Monitor]:
        """Every monitor, by name."""
        ...

    def delete_monitor(self, name: str) -> None:
        """Delete the monitor with its windows and points (``NotFound`` if there is none)."""
        ...

    def commit(self, name: str, *, expect: tuple[int | None, int | None], windows: Sequence[MonitorWindow],
               points: Sequence[Point], cursor: int | None, label_watermark: int | None) -> Monitor:
        """In one transaction: store ``windows`` and ``points`` (replacing equal keys) and
        move the monitor to ``cursor`` and ``label_watermark`` — only if its current
        ``(cursor, label_watermark)`` equals ``expect``, else ``Conflict`` and nothing changes.
        A window with status ``partial`` is refused (``InvalidInput``): only closed windows are kept."""
        ...

    def list_windows(self, name: str, *, since_ms: int | None = None, until_ms: int | None = None,
                     profiles: bool = False) -> list[MonitorWindow]:
        """The monitor's computed windows, oldest first; with their profiles if ``profiles``."""
        ...

    # -- series (SeriesStore) ---------------------------------------------------------------

    def write_points(self, points: Sequence[Point]) -> None:
        """Store points; a point for an already stored (monitor, series, labels, window) replaces it."""
        ...

    def query_points(self, monitor: str | None = None, series: str | None = None, *,
                     since_ms: int | None = None, until_ms: int | None = None,
                     labels: Mapping[str, str] | None = None) -> list[Point]:
        """Points matching every filter (``labels``: each given label equal), ordered by
        window_end, then series and labels."""
        ...

    def latest_points(self, monitor: str | None = None) -> list[Point]:
        """For each (monitor, series, labels), the point of the latest window."""
        ...

    # -- labels -------------------------------------------------------------------------

    def put_labels(self, labels: pd.DataFrame) -> int:
        """Store labels (columns ``request_id``, ``label``, optional ``row`` and ``model``);
        a label for a stored (model, request_id, row) replaces it. Returns the count."""
        ...

    def get_labels(self, model: str, *, arrived_after: int | None = None,
                   request_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Labels for ``model`` (and those for any model), with :data:`LABEL_COLUMNS`,
        arrived strictly after ``arrived_after`` and/or for the given request ids."""
        ...

    # -- segment index --------------------------------------------------------------------

    def segment_spans(self, digests: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        """``digest -> (first_ms, last_ms, rows)`` of the inference-log segments already indexed."""
        ...

    def record_segment_spans(self, spans: Mapping[str, tuple[int, int, int]]) -> None:
        """Remember segments' time spans (a digest already known keeps its span: segments are immutable)."""
        ...

    def close(self) -> None: ...
