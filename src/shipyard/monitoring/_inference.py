"""Reading a served model's inference log (and its feedback labels) over a time range.

Serving writes one tracking run per model and serving process in experiment
``serving:<model>``; its artifacts are Parquet segments
``inference/<YYYY-MM-DD>/<worker>-<seq>.parquet`` and ``feedback/<YYYY-MM-DD>/…``
for labels posted to ``/v1/feedback`` (the names, columns included, are those of
:mod:`shipyard.serving._log_layout`, which the writer uses too). The date is the
day the segment was *written*, at most a flush interval after its rows arrived, so
a range ``[start, end)`` reads the folders from ``start``'s day to the day of
``end + slack``, of the runs not ended before ``start``.

Segments are read a few at a time (in parallel threads), in Arrow record batches of
the requested columns only, and skipped without decoding when their row-group
statistics show no timestamp in range; so memory follows the batch size, not the
window's row count. Where the objects live on a filesystem the reader can reach
(the local disk or S3 through fsspec) a segment is read in place — its footer and
the column chunks asked for — instead of downloaded whole. With an index (the
monitor store), segments whose time span is known to miss the range are not
opened at all. A segment that cannot be read is logged and skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from shipyard.errors import NotFound
from shipyard.monitoring._entities import ModelRef
from shipyard.monitoring._labels import empty_labels
from shipyard.serving import _log_layout as layout
from shipyard.store.artifacts import FsspecArtifactStore
from shipyard.tracking import TrackingStore

if TYPE_CHECKING:
    from shipyard.monitoring._backend import MonitorStore as SegmentIndex

__all__ = ["InferenceLogReader", "Segment", "timestamps_ms"]

logger = logging.getLogger("shipyard.monitoring")

_DAY_MS = 86_400_000
_PARALLEL = 4
_TS = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class Segment:
    """One Parquet segment of the log: the run holding it, its artifact path, size and digest."""

    run_id: str
    path: str
    size: int
    digest: str = ""

    @property
    def day(self) -> str:
        return layout.segment_day(self.path)


def _days(start_ms: int, end_ms: int) -> set[str]:
    first = start_ms - start_ms % _DAY_MS
    return {layout.day_of(t) for t in range(first, max(end_ms, start_ms + 1), _DAY_MS)} | {layout.day_of(end_ms - 1)}


class InferenceLogReader:
    """The inference log of one served model, read through a tracking store.

    ``slack_ms`` is how long after a row's arrival its segment may have been written
    (the serving flush interval, with margin). ``route``: only rows answered by this
    route (``"*"`` or None: every route but ``shadow``); ``version``: only rows of
    this model version. With an ``index`` (a monitor store), the time span of every
    segment read is remembered by its digest, and later reads skip, without fetching
    them, the segments whose span misses the range.
    """

    def __init__(self, tracking: TrackingStore, model: ModelRef | str, *, route: str | None = None,
                 version: int | None = None, slack_ms: int = 600_000, index: SegmentIndex | None = None) -> None:
        ref = model if isinstance(model, ModelRef) else ModelRef(model)
        self.tracking = tracking
        self.model = ref.name
        self.route = route if route is not None else ref.alias
        self.version = version if version is not None else ref.version
        self.slack_ms = slack_ms
        self.index = index
        self._spans: dict[str, tuple[int, int, int]] = {}  # spans learnt while reading, to record
        self.unreadable: list[str] = []  # segments that could not be read (logged and skipped)
        self._runs: list[Any] | None = None
        self._listed: dict[tuple[str, str], list[Segment]] = {}

    # -- segment index ---------------------------------------------------------------------

    def runs(self) -> list[Any]:
        """The serving runs of the model (remembered for this reader's life)."""
        if self._runs is None:
            try:
                experiment = self.tracking.get_experiment_by_name(layout.experiment_name(self.model))
            except NotFound:
                self._runs = []
                return self._runs
            runs: list[Any] = []
            token = None
            while True:
                page = self.tracking.search_runs([experiment.id], max_results=1000, page_token=token)
                runs += list(page.items)
                token = page.next_page_token
                if not token:
                    break
            self._runs = runs
        return self._runs

    def segments(self, start_ms: int, end_ms: int, kind: str = layout.INFERENCE) -> list[Segment]:
        """Segments that may hold rows arriving in ``[start_ms, end_ms)``."""
        days = _days(start_ms, end_ms + self.slack_ms)
        found: list[Segment] = []
        for run in self.runs():
            if run.end_time is not None and run.end_time < start_ms:
                continue
            key = (run.id, kind)
            if key not in self._listed:
                self._listed[key] = [Segment(run.id, a.path, a.size, a.digest)
                                     for a in self.tracking.list_artifacts(run.id, kind) if layout.is_segment(a.path)]
            found += [s for s in self._listed[key] if s.day in days]
        return found

    # -- rows ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _open(self, segment: Segment) -> Iterator[pq.ParquetFile]:
        """The segment as a Parquet file: in place (footer and the column chunks asked for) when
        the tracking store's objects are reachable on an fsspec filesystem, else downloaded
        whole through the tracking API (hash-checked). An unreadable segment is skipped and
        remembered in :attr:`unreadable`."""
        source: Any = None
        file: Any = _EMPTY
        try:
            artifacts = getattr(self.tracking, "artifacts", None)
            if isinstance(artifacts, FsspecArtifactStore) and segment.digest:
                path = artifacts.object_path(segment.digest)
                # Objects are content-addressed and immutable: reading one in place is safe.
                source = pa.memory_map(path) if isinstance(artifacts.fs, LocalFileSystem) else artifacts.fs.open(path)
            else:
                source = io.BytesIO(b"".join(self.tracking.open_artifact(segment.run_id, segment.path)))
            file = pq.ParquetFile(source)
        except (pa.ArrowException, OSError) as exc:
            logger.warning("inference log segment %s of run %s is unreadable: %s", segment.path, segment.run_id, exc)
            self.unreadable.append(segment.path)
        try:
            yield file
        finally:
            if source is not None:
                source.close()

    def _filtered(self, segment: Segment, start_ms: int, end_ms: int, columns: Sequence[str] | None,
                  prefixes: Sequence[str], batch_rows: int) -> list[pa.Table]:
        with self._open(segment) as file:
            try:
                return self._read(file, segment, start_ms, end_ms, columns, prefixes, batch_rows)
            except (pa.ArrowException, OSError) as exc:
                logger.warning("inference log segment %s is unreadable: %s", segment.path, exc)
                self.unreadable.append(segment.path)
                return []

    def _read(self, file: Any, segment: Segment, start_ms: int, end_ms: int, columns: Sequence[str] | None,
              prefixes: Sequence[str], batch_rows: int) -> list[pa.Table]:
        if file is _EMPTY:
            return []
        names = file.schema_arrow.names
        if layout.TIMESTAMP not in names:
            return []
        span = _file_span(file)
        if span is not None and segment.digest:
            self._spans[segment.digest] = span
        groups = [i for i in range(file.metadata.num_row_groups) if _may_overlap(file, i, start_ms, end_ms)]
        if not groups:
            return []
        wanted = {layout.TIMESTAMP, layout.ROUTE, layout.VERSION}
        wanted |= set(names) if columns is None else set(columns)
        wanted |= {n for n in names if any(n.startswith(p) for p in prefixes)}
        selected = [n for n in names if n in wanted]
        out = []
        for batch in file.iter_batches(batch_size=batch_rows, row_groups=groups, columns=selected):
            table = pa.Table.from_batches([batch])
            mask = pc.and_(pc.greater_equal(table[layout.TIMESTAMP], pa.scalar(start_ms, _TS)),
                           pc.less(table[layout.TIMESTAMP], pa.scalar(end_ms, _TS)))
            if layout.ROUTE in table.column_names:
                if self.route in (None, "*"):
                    mask = pc.and_(mask, pc.not_equal(table[layout.ROUTE], layout.SHADOW_ROUTE))
                else:
                    mask = pc.and_(mask, pc.equal(table[layout.ROUTE], self.route))
            if self.version is not None and layout.VERSION in table.column_names:
                mask = pc.and_(mask, pc.equal(table[layout.VERSION], str(self.version)))
            mask = pc.fill_null(mask, False)
            if pc.all(mask).as_py():
                out.append(table)  # the usual case: no copy
            elif pc.any(mask).as_py():
                out.append(table.filter(mask))
        return out

    def tables(self, start_ms: int, end_ms: int, *, columns: Sequence[str] | None = None,
               prefixes: Sequence[str] = (), batch_rows: int = 65_536) -> Iterator[pa.Table]:
        """Rows that arrived in ``[start_ms, end_ms)``, as Arrow tables of at most
        ``batch_rows`` rows, with ``columns`` (all if None), any column starting with one
        of ``prefixes``, and ``timestamp``, ``route``, ``version``. Segments written by
        different model versions may differ in columns; a table has what its segment has."""
        segments = self.segments(start_ms, end_ms)
        if self.index is not None and segments:
            known = {**self.index.segment_spans([s.digest for s in segments if s.digest]), **self._spans}
            segments = [s for s in segments if s.digest not in known
                        or (known[s.digest][1] >= start_ms and known[s.digest][0] < end_ms)]
        with ThreadPoolExecutor(max_workers=_PARALLEL, thread_name_prefix="shipyard-log") as pool:
            for first in range(0, len(segments), _PARALLEL * 2):
                chunk = segments[first:first + _PARALLEL * 2]
                for tables in pool.map(lambda s: self._filtered(s, start_ms, end_ms, columns, prefixes, batch_rows),
                                       chunk):
                    yield from tables
        self.record_spans()

    def logged_inputs(self) -> list[str] | None:
        """The inputs of the newest inference segment (tabular ``in_<name>`` columns, under
        their names); None when the model has logged nothing readable yet."""
        runs = sorted(self.runs(), key=lambda r: r.start_time, reverse=True)
        for run in runs:
            segments = [Segment(run.id, a.path, a.size, a.digest)
                        for a in self.tracking.list_artifacts(run.id, layout.INFERENCE) if layout.is_segment(a.path)]
            if not segments:
                continue
            with self._open(max(segments, key=lambda s: s.path)) as file:
                if file is _EMPTY:
                    continue
                return [name for field in file.schema_arrow
                        if (name := layout.input_name(field.name)) is not None and not _nested(field.type)]
        return None

    def record_spans(self) -> None:
        """Store the spans of the segments read so far in the index (if any)."""
        if self.index is not None and self._spans:
            spans, self._spans = self._spans, {}
            self.index.record_segment_spans(spans)

    def read(self, start_ms: int, end_ms: int, **options: Any) -> pd.DataFrame:
        """Every row in ``[start_ms, end_ms)`` as one DataFrame (for small ranges and tests)."""
        tables = list(self.tables(start_ms, end_ms, **options))
        if not tables:
            return pd.DataFrame()
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()

    # -- labels ----------------------------------------------------------------------------

    def feedback(self, arrived_after: int | None, until_ms: int | None = None) -> pd.DataFrame:
        """Labels posted to ``/v1/feedback`` that arrived after ``arrived_after`` (all if None),
        as a label frame (``row`` -1: feedback labels a whole request)."""
        frames = []
        start = 0 if arrived_after is None else arrived_after + 1
        end = until_ms if until_ms is not None else 2**53
        for run in self.runs():
            if run.end_time is not None and run.end_time + self.slack_ms < start:
                continue
            key = (run.id, layout.FEEDBACK)
            if key not in self._listed:
                self._listed[key] = [Segment(run.id, a.path, a.size, a.digest) for a in
                                     self.tracking.list_artifacts(run.id, layout.FEEDBACK)
                                     if layout.is_segment(a.path)]
            first_day = layout.day_of(max(start, 0))
            for segment in self._listed[key]:
                if segment.day < first_day:
                    continue
                with self._open(segment) as file:
                    if file is _EMPTY:
                        continue
                    try:
                        table = file.read(columns=[layout.REQUEST_ID, layout.TIMESTAMP, layout.LABEL])
                    except (pa.ArrowException, OSError, KeyError) as exc:
                        logger.warning("feedback segment %s is unreadable: %s", segment.path, exc)
                        self.unreadable.append(segment.path)
                        continue
                ts = timestamps_ms(table[layout.TIMESTAMP])
                keep = (ts >= start) & (ts < end)
                if not keep.any():
                    continue
                labels = table[layout.LABEL].to_pylist()
                frames.append(pd.DataFrame({
                    "model": pd.Series([self.model] * int(keep.sum()), dtype=object),
                    "request_id": pd.Series(np.asarray(table[layout.REQUEST_ID].to_pylist(), dtype=object)[keep],
                                            dtype=object),
                    "row": np.full(int(keep.sum()), -1, dtype=np.int64),
                    "label": pd.Series(np.asarray(labels, dtype=object)[keep], dtype=object),
                    "arrived_at": ts[keep].astype(np.int64),
                }))
        if not frames:
            return empty_labels()
        return pd.concat(frames, ignore_index=True)


def timestamps_ms(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A timestamp column (any unit; segments written by pandas hold nanoseconds) as int64 ms."""
    if pa.types.is_timestamp(column.type) and column.type.unit != "ms":
        column = pc.cast(column, pa.timestamp("ms", tz=column.type.tz), safe=False)
    return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


_EMPTY: Any = object()  # stands for a segment that could not be opened


def _file_span(file: pq.ParquetFile) -> tuple[int, int, int] | None:
    """``(first_ms, last_ms, rows)`` of a segment from its row-group statistics, if every group has them."""
    low = high = None
    for group in range(file.metadata.num_row_groups):
        meta = file.metadata.row_group(group)
        stats = next((meta.column(i).statistics for i in range(meta.num_columns)
                      if meta.column(i).path_in_schema == layout.TIMESTAMP), None)
        if stats is None or not stats.has_min_max:
            return None
        a, b = _ms(stats.min), _ms(stats.max)
        if a is None or b is None:
            return None
        low, high = (a, b) if low is None or high is None else (min(low, a), max(high, b))
    if low is None or high is None:
        return None
    return low, high, file.metadata.num_rows


def _may_overlap(file: pq.ParquetFile, group: int, start_ms: int, end_ms: int) -> bool:
    """False only when the row group's timestamp statistics prove no row is in range."""
    meta = file.metadata.row_group(group)
    for i in range(meta.num_columns):
        column = meta.column(i)
        if column.path_in_schema != layout.TIMESTAMP:
            continue
        stats = column.statistics
        if stats is None or not stats.has_min_max:
            return True
        low, high = _ms(stats.min), _ms(stats.max)
        if low is None or high is None:
            return True
        return high >= start_ms and low < end_ms
    return True


def _ms(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    return None  # raw integers carry no unit here: read the row group rather than guess


def _nested(type_: pa.DataType) -> bool:
    """Whether a log column holds tensors or records (which drift does not compare) rather than values."""
    return (pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_)
            or pa.types.is_struct(type_) or pa.types.is_null(type_))
