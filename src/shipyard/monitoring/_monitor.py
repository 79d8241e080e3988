"""Running a monitor: every closed window once, and late labels applied to recent windows.

:func:`run_monitor` computes the windows between the monitor's cursor and ``now -
delay_s`` (oldest first, at most ``max_windows`` per run). Consecutive windows are
read from the inference log in one pass of up to a day (each segment is fetched
once), each window's rows go to its own
:class:`~shipyard.monitoring._window.WindowAccumulator`, and the results of every pass
are committed in one transaction together with the new cursor
(:meth:`~shipyard.monitoring._backend.MonitorStore.commit`). A window with no rows is
stored too, with ``status="empty"`` and None values. If another runner committed
first the commit is refused and this run stops: every window is computed once.

**Late labels.** Labels arrive after their predictions (``/v1/feedback``, or
:meth:`shipyard.Client.log_labels`). The monitor keeps a *label watermark*: the
arrival time up to which labels have been applied. A run that computes a new
window, or finds the watermark a full window old, looks for labels that arrived
after it; the windows of the last ``label_horizon_s`` (default 7 days) holding any
of their request ids get their performance series recomputed with every label
known now (the other series of those windows are left as they were). The watermark
then moves to ``now - delay_s``, so labels still in a serving worker's buffer are
looked at again next time. A new window always joins every label known when it is
computed.

**What waits.** A window is computed once it has closed (and ``delay_s`` has
passed), so rows logged since the last computed window wait for it. Every run says
so (:attr:`MonitorRun.pending`: the rows of each window not computed yet, and when
a run will compute it). With ``include_partial=True`` those windows are computed as
they stand too (:attr:`MonitorRun.partial`, status ``partial``); they are never
stored (the series, reports and ``/metrics`` hold closed windows only) and each
request computes them afresh.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.alerting import Point
from shipyard.errors import Conflict, InvalidInput
from shipyard.monitoring._backend import MonitorStore
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.monitoring._inference import InferenceLogReader, timestamps_ms
from shipyard.monitoring._labels import empty_labels, latest_labels
from shipyard.monitoring._profile import WindowProfile
from shipyard.monitoring._run_result import MonitorRun, PartialWindow, Pending
from shipyard.monitoring._window import PERFORMANCE_COLUMNS, WindowAccumulator, performance_points
from shipyard.serving import _log_layout as layout
from shipyard.timeutil import now_ms
from shipyard.tracking import TrackingStore

__all__ = ["MonitorRun", "PartialWindow", "Pending", "load_reference", "run_monitor"]

logger = logging.getLogger("shipyard.monitoring")

_SPAN_MS = 86_400_000  # windows read in one pass of the log
_SKEW_MS = 3_600_000  # clocks of serving workers and the store may disagree this much

Schema = Callable[[str, str | None], tuple[Any, Any]]  # (model, version) -> (signature, contract)


def load_reference(datasets: Any, reference: str, cache: dict[str, WindowProfile] | None = None) -> WindowProfile:
    """The reference profile of a dataset reference (``ds:churn@3``): its stored profile.

    ``cache`` (kept by the caller, e.g. a client) holds converted profiles by content
    hash: a version never changes, so a long-running scheduler converts each once.
    """
    version = datasets.resolve(reference.removeprefix("ds:"))
    if version.profile is None:
        raise InvalidInput(f"reference {reference!r} has no stored profile (is it tabular?)", field="reference")
    key = f"{version.name}@{version.digest}"
    if cache is not None and key in cache:
        return cache[key]
    profile = WindowProfile.from_dataset_profile(version.profile)
    if cache is not None:
        cache[key] = profile
    return profile


class _Labels:
    """Labels for request ids: the store's batch uploads and the log's feedback, latest wins.

    A label arrives after its prediction, so every label of windows starting at
    ``since_ms`` arrived after it (less clock skew): both sources are read once, by
    arrival time, on first use, and each window picks its request ids from them.
    """

    def __init__(self, store: MonitorStore, reader: InferenceLogReader, since_ms: int) -> None:
        self.store, self.reader, self.since_ms = store, reader, since_ms
        self._known: pd.DataFrame | None = None
        self.asked: set[str] = set()  # request ids whose labels were looked up (and applied)

    def _load(self) -> pd.DataFrame:
        if self._known is None:  # read once per run, only if asked
            after = self.since_ms - _SKEW_MS
            self._known = latest_labels(self.store.get_labels(self.reader.model, arrived_after=after),
                                        self.reader.feedback(after))
        return self._known

    def __call__(self, request_ids: Sequence[str]) -> pd.DataFrame:
        self.asked.update(request_ids)
        return self._load()  # the join looks each request up; no need to narrow the frame first

    def arrived_after(self, ms: int) -> pd.DataFrame:
        """The labels that arrived after ``ms`` (from what was read already, when it covers them)."""
        if self._known is not None and ms >= self.since_ms - _SKEW_MS:
            return self._known[self._known["arrived_at"] > ms]
        return latest_labels(self.store.get_labels(self.reader.model, arrived_after=ms), self.reader.feedback(ms))


def run_monitor(monitor: Monitor, *, store: MonitorStore, tracking: TrackingStore, datasets: Any = None,
                schema: Schema | None = None, now_ms: int | None = None, max_windows: int = 1000,
                references: dict[str, WindowProfile] | None = None, include_partial: bool = False) -> MonitorRun:
    """Compute the monitor's closed windows and apply late labels (see the module docstring).

    ``datasets`` resolves the reference; ``schema(model, version)`` gives a version's
    signature and data contract; ``references`` caches converted reference profiles.
    The result says which rows wait for a window not computed yet; ``include_partial``
    computes those windows as they stand too (never stored).
    """
    now = now_ms if now_ms is not None else _now()
    delay_ms = int(float(monitor.option("delay_s")) * 1000)
    ref = monitor.model_ref
    reader = InferenceLogReader(tracking, ref, route=monitor.option("route"), slack_ms=max(delay_ms, 60_000) + 60_000,
                                index=store)
    due = monitor.closed_windows(now, limit=max_windows)
    expect = (monitor.cursor, monitor.label_watermark)
    cursor = monitor.cursor if monitor.cursor is not None else monitor.first_window_start(monitor.created_at)
    check_labels = bool(due) or monitor.label_watermark is None \
        or now - monitor.label_watermark >= monitor.window_ms
    labels = _Labels(store, reader, due[0][0] if due else cursor)
    computed: list[MonitorWindow] = []
    written = 0
    latest: dict[str, float | None] = {}
    versions: dict[str | None, tuple[Any, Any]] = {}

    def schema_of(version: str | None) -> tuple[Any, Any]:
        if version not in versions:
            versions[version] = schema(ref.name, version) if schema is not None else (None, None)
        return versions[version]

    @functools.cache
    def reference() -> WindowProfile | None:
        return load_reference(datasets, monitor.reference, references) if monitor.reference else None

    def waiting(run: MonitorRun) -> MonitorRun:
        """``run`` with what waits after the cursor (and the partial windows, if asked for)."""
        backlog = max(0, (now - delay_ms - cursor) // monitor.window_ms)
        first_open = cursor + backlog * monitor.window_ms
        if include_partial:
            partial = _partial(monitor, first_open, now, reader, reference(), schema_of, store)
            pending = tuple(Pending(w.window.window_start, w.window.window_end, w.window.rows,
                                    w.window.window_end + delay_ms) for w in partial if w.window.rows)
            return replace(run, backlog=backlog, pending=pending, partial=tuple(partial))
        return replace(run, backlog=backlog, pending=_pending(monitor, first_open, now, reader, delay_ms))

    if due:
        profile = reference()
        for span in _spans(due):
            windows, points = _compute_span(monitor, span, reader, profile, schema_of, labels)
            try:
                store.commit(monitor.name, expect=expect, windows=windows, points=points, cursor=span[-1][1],
                             label_watermark=monitor.label_watermark)
            except Conflict:
                logger.info("monitor %s: another runner committed first; stopping", monitor.name)
                return MonitorRun(monitor.name, tuple(computed), (), written, latest,
                                  error="another runner committed first")
            expect = (span[-1][1], monitor.label_watermark)
            cursor = span[-1][1]
            computed += windows
            written += len(points)
            last = windows[-1].window_start
            latest = {p.series: p.value for p in points if p.window_start == last and not p.labels}
    if not check_labels:
        return waiting(MonitorRun(monitor.name, tuple(computed), (), written, latest))
    # Late labels, after the new windows: those joined labels known now already, so the
    # labels they used need no second look.
    relabel: list[Point] = []
    relabelled: list[int] = []
    if monitor.label_watermark is not None:
        relabel, relabelled = _relabel(monitor, store, reader, cursor, now, labels)
    watermark = max(monitor.label_watermark or 0, now - delay_ms)
    if relabel or watermark != monitor.label_watermark:
        try:
            store.commit(monitor.name, expect=expect, windows=[], points=relabel, cursor=cursor,
                         label_watermark=watermark)
        except Conflict:
            return MonitorRun(monitor.name, tuple(computed), (), written, latest,
                              error="another runner committed first")
    return waiting(MonitorRun(monitor.name, tuple(computed), tuple(relabelled), written + len(relabel), latest))


def _now() -> int:
    return now_ms()


def _spans(windows: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Consecutive windows grouped so one read of the log covers at most a day."""
    spans: list[list[tuple[int, int]]] = []
    for window in windows:
        if spans and window[1] - spans[-1][0][0] <= _SPAN_MS:
            spans[-1].append(window)
        else:
            spans.append([window])
    return spans


def _compute_span(monitor: Monitor, span: list[tuple[int, int]], reader: InferenceLogReader,
                  reference: WindowProfile | None, schema: Callable[[str | None], tuple[Any, Any]],
                  labels: _Labels, until: int | None = None) -> tuple[list[MonitorWindow], list[Point]]:
    """The windows of ``span`` from the rows logged before ``until`` (default: their end)."""
    start, end = span[0][0], span[-1][1]
    accumulators = [WindowAccumulator(monitor, s, e, reference=reference, schema=schema) for s, e in span]
    for table in reader.tables(start, end if until is None else min(end, until)):
        for index, part in _split(table, start, monitor.window_ms):
            accumulators[index].add(part)
    windows, points = [], []
    for acc in accumulators:
        window, window_points = acc.finish(labels)
        windows.append(window)
        points += window_points
    return windows, points


def _open_windows(monitor: Monitor, start: int, now: int) -> list[tuple[int, int]]:
    """The windows from ``start`` up to the one holding ``now``."""
    return [(s, s + monitor.window_ms) for s in range(start, max(now, start + 1), monitor.window_ms)]


def _pending(monitor: Monitor, start: int, now: int, reader: InferenceLogReader, delay_ms: int) -> tuple[Pending, ...]:
    """Rows logged in ``[start, now)`` per window, read as timestamps only."""
    counts: dict[int, int] = {}
    for table in reader.tables(start, now, columns=[]):
        index = (timestamps_ms(table[layout.TIMESTAMP]) - start) // monitor.window_ms
        for i, n in zip(*np.unique(index, return_counts=True), strict=True):
            counts[int(i)] = counts.get(int(i), 0) + int(n)
    return tuple(Pending(start + i * monitor.window_ms, start + (i + 1) * monitor.window_ms, n,
                         start + (i + 1) * monitor.window_ms + delay_ms) for i, n in sorted(counts.items()))


def _partial(monitor: Monitor, start: int, now: int, reader: InferenceLogReader, reference: WindowProfile | None,
             schema: Callable[[str | None], tuple[Any, Any]], store: MonitorStore) -> list[PartialWindow]:
    """The windows not computed yet, from the rows logged before ``now``, marked ``partial``."""
    windows = _open_windows(monitor, start, now)
    if not windows:
        return []
    computed, points = _compute_span(monitor, windows, reader, reference, schema, _Labels(store, reader, start),
                                     until=now)
    by_window: dict[int, list[Point]] = {}
    for point in points:
        by_window.setdefault(point.window_start, []).append(point)
    out = []
    for window in computed:
        detail = window.detail
        if window.status not in ("ok", "empty"):  # what a closed window would say
            detail = f"{window.status}: {detail}" if detail else window.status
        out.append(PartialWindow(replace(window, status="partial", detail=detail), now,
                                 tuple(by_window.get(window.window_start, ()))))
    return out


def _split(table: pa.Table, start: int, window_ms: int) -> list[tuple[int, pa.Table]]:
    """The rows of ``table`` per window index (windows of ``window_ms`` from ``start``)."""
    ts = timestamps_ms(table[layout.TIMESTAMP])
    index = (ts - start) // window_ms
    first, last = int(index.min()), int(index.max())
    if first == last:
        return [(first, table)]
    return [(int(i), table.filter(pa.array(index == i))) for i in np.unique(index)]


def _relabel(monitor: Monitor, store: MonitorStore, reader: InferenceLogReader, cursor: int,
             now: int, known: _Labels) -> tuple[list[Point], list[int]]:
    """Performance points of computed windows holding requests labelled since the watermark.

    A first pass reads only request ids and timestamps of the horizon's windows and
    looks them up, about a million at a time, in the set of freshly labelled ids, to
    find the affected windows; only those are read again in full.
    """
    assert monitor.label_watermark is not None
    fresh = known.arrived_after(monitor.label_watermark)
    ids = set(fresh["request_id"]) - known.asked  # labels of windows computed in this run were applied there
    if not ids:
        return [], []
    fresh_ids = pa.array(sorted(ids), type=pa.string())
    horizon = max(now - int(monitor.option("label_horizon_s")) * 1000, 0)
    computed = {w.window_start for w in store.list_windows(monitor.name, since_ms=horizon, until_ms=cursor)}
    if not computed:
        return [], []
    first = min(computed)
    affected: set[int] = set()
    pending: list[pa.Table] = []

    def look_up() -> None:
        batch = pa.concat_tables(pending, promote_options="permissive")
        pending.clear()
        found = pc.fill_null(pc.is_in(batch[layout.REQUEST_ID].cast(pa.string()), value_set=fresh_ids), False)
        ts = timestamps_ms(batch[layout.TIMESTAMP].filter(found))
        affected.update(first + int(i) * monitor.window_ms for i in np.unique((ts - first) // monitor.window_ms))

    # One set lookup per million rows: each call hashes the fresh ids again.
    for table in reader.tables(first, cursor, columns=[layout.REQUEST_ID]):
        pending.append(table.select([layout.REQUEST_ID, layout.TIMESTAMP]))
        if sum(t.num_rows for t in pending) >= 1_000_000:
            look_up()
    if pending:
        look_up()
    affected &= computed  # windows never computed (before the monitor's start) stay absent
    if not affected:
        return [], []
    labels = _Labels(store, reader, min(affected))
    points: list[Point] = []
    for start in sorted(affected):
        end = start + monitor.window_ms
        tables = [t for t in reader.tables(start, end, columns=PERFORMANCE_COLUMNS)
                  if layout.PREDICTION in t.column_names]
        if not tables:
            continue
        merged = pa.concat_tables(tables, promote_options="permissive")
        if layout.STATUS in merged.column_names:
            merged = merged.filter(pc.fill_null(pc.less(merged[layout.STATUS], 400), False))
        ids_in = merged[layout.REQUEST_ID].unique().to_pylist()
        points += performance_points(monitor, start, end, merged, labels(ids_in) if ids_in else empty_labels())
    return points, sorted(affected)
