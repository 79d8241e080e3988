"""Window profiles: bounded, mergeable sketches of a table, the unit of drift at scale.

A :class:`WindowProfile` holds, per column, a sketch whose size does not depend on
the row count:

* numeric (:class:`NumericSketch`): count, missing values, min, max, mean and the
  sum of squared deviations (merged exactly by Chan's formula), a histogram on
  fixed edges and a 257-point :class:`~shipyard.datasets._sketches.QuantileSketch`.
  The edges are the reference's quantiles at 0, 1/:data:`BINS` … 1 (distinct
  values only; a column with at most :data:`BINS` distinct values gets one bin per
  value). A window profiled with ``reference=`` uses the reference's edges, so its
  histogram merges with other windows and compares with the reference exactly.
* categorical (:class:`CategoricalSketch`): the counts of the :data:`TOP_K` most
  frequent values, the rest pooled in ``other`` (exact while a column has at most
  :data:`TOP_K` values; beyond that, counts of values that fell out of some
  window's top are lower bounds).

Merging is exact for counts, moments, histograms on equal edges and category counts
(within the cap), and within the quantile sketch's stated error for quantiles, so a
day's profile is the merge of its hourly profiles. A stored dataset
:class:`~shipyard.datasets.Profile` converts with :meth:`WindowProfile.from_dataset_profile`
(its histogram is read off its quantile sketch, or exact for a discrete column).

>>> import pandas as pd
>>> ref = WindowProfile.of(pd.DataFrame({"x": [1.0, 2.0, 3.0], "plan": ["a", "b", "a"]}))
>>> ref.columns["plan"].counts
(('a', 2), ('b', 1))
>>> ref.merge(ref).rows
6
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipyard.datasets._sketches import Histogram, QuantileSketch
from shipyard.errors import InvalidInput
from shipyard.monitoring import _sketch as sketching
from shipyard.monitoring._frames import as_table, category_counts, kind_of, sorted_finite, text
from shipyard.monitoring._sketch import BINS, TOP_K, CategoricalSketch, ColumnSketch, NumericSketch, categorical

__all__ = ["BINS", "TOP_K", "CategoricalSketch", "ColumnSketch", "NumericSketch", "WindowProfile"]

_FORMAT = 1


@dataclass(frozen=True)
class WindowProfile:
    """Sketches of the columns of one window (or reference) of ``rows`` rows; see the module docstring."""

    rows: int
    columns: Mapping[str, ColumnSketch] = field(default_factory=dict)

    @classmethod
    def of(cls, frame: Any, *, reference: WindowProfile | None = None,
           columns: Sequence[str] | None = None) -> WindowProfile:
        """Profile ``frame`` (pandas/polars DataFrame, Arrow table or batch, mapping of columns).

        With ``reference``, numeric columns are binned on the reference's histogram
        edges and read with the reference's column kinds. ``columns`` limits the
        profile to those columns (absent ones are simply left out).
        """
        table = as_table(frame)
        sketches: dict[str, ColumnSketch] = {}
        for name in _names(table.schema.names, columns):
            sketch = _sketch_column(table.column(name), reference.columns.get(name) if reference else None)
            if sketch is not None:
                sketches[name] = sketch
        return cls(table.num_rows, sketches)

    @classmethod
    def of_batches(cls, batches: Iterable[pa.RecordBatch | pa.Table], *, reference: WindowProfile | None = None,
                   columns: Sequence[str] | None = None) -> WindowProfile:
        """The merged profile of a stream of batches (memory: one batch plus the sketches).

        Without ``reference`` the first batch sets the histogram edges; prefer
        :meth:`of_parquet`, which reads twice to set them from the whole data.
        """
        profile: WindowProfile | None = None
        for batch in batches:
            part = cls.of(batch, reference=reference or profile, columns=columns)
            profile = part if profile is None else profile.merge(part)
        return profile if profile is not None else cls(0, {})

    @classmethod
    def of_parquet(cls, paths: str | Path | Sequence[str | Path], *, reference: WindowProfile | None = None,
                   columns: Sequence[str] | None = None, batch_rows: int = 1 << 17) -> WindowProfile:
        """Profile Parquet files batch by batch; memory is bounded by one batch and the sketches.

        Without ``reference``, a first pass sketches the quantiles that set the
        histogram edges and a second pass counts.
        """
        files = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        if reference is None:
            import pyarrow.parquet as pq

            from shipyard.datasets._tables import reading

            rows = 0
            for path in files:
                with reading(str(path)):
                    rows += pq.ParquetFile(path).metadata.num_rows
            reference = cls(0, sketching.quantile_pass(_batches(files, columns, batch_rows), rows))
        return cls.of_batches(_batches(files, columns, batch_rows), reference=reference, columns=columns)

    @classmethod
    def from_dataset_profile(cls, profile: Any) -> WindowProfile:
        """A stored dataset :class:`~shipyard.datasets.Profile` as a reference profile.

        Numeric histograms are exact for discrete columns (one bin per value, from the
        profile's value counts), else read off the profile's quantile sketch (their
        edges are its quantiles); temporal and other columns are left out.
        """
        from shipyard.datasets import Profile

        if not isinstance(profile, Profile):
            raise InvalidInput(f"expected a dataset Profile, got {type(profile).__name__}", field="profile")
        sketches: dict[str, ColumnSketch] = {}
        for column in profile:
            nulls = column.nulls + column.nan
            if column.kind == "numeric" and column.quantiles is not None:
                sketches[column.name] = sketching.numeric_from_quantiles(
                    column.count, nulls, column.mean, column.m2, column.quantiles, BINS,
                    values=column.top if column.top_complete else None)
            elif column.kind == "categorical":
                counts = {text(v): c for v, c in (column.top or ())}
                sketches[column.name] = categorical(column.count, nulls, counts,
                                                     column.count - sum(counts.values()))
        return cls(profile.rows, sketches)

    def merge(self, other: WindowProfile) -> WindowProfile:
        """The profile of both windows together; a column absent from one side counts as null there."""
        merged: dict[str, ColumnSketch] = {}
        for name, mine in self.columns.items():
            theirs = other.columns.get(name)
            try:
                merged[name] = (mine.merge(theirs) if theirs is not None
                                else replace(mine, nulls=mine.nulls + other.rows))
            except InvalidInput:
                raise InvalidInput(f"cannot merge column {name!r}: numeric on one side, categorical on the other",
                                   field=name) from None
        for name, theirs in other.columns.items():
            if name not in merged:
                merged[name] = replace(theirs, nulls=theirs.nulls + self.rows)
        return WindowProfile(self.rows + other.rows, merged)

    @classmethod
    def merge_all(cls, profiles: Sequence[WindowProfile]) -> WindowProfile:
        """Many windows merged at once: equal to merging them in turn, in one pass per column."""
        profiles = list(profiles)
        names = list(dict.fromkeys(name for p in profiles for name in p.columns))
        merged: dict[str, ColumnSketch] = {}
        for name in names:
            present = [p.columns[name] for p in profiles if name in p.columns]
            # A window without the column counts as that many nulls (as in merge).
            absent = sum(p.rows for p in profiles if name not in p.columns)
            try:
                sketch = sketching.merge_all(present)
            except InvalidInput:
                raise InvalidInput(f"cannot merge column {name!r}: numeric in some windows, categorical in others",
                                   field=name) from None
            merged[name] = replace(sketch, nulls=sketch.nulls + absent) if absent else sketch
        return cls(sum(p.rows for p in profiles), merged)

    def to_json(self) -> dict[str, Any]:
        return {"format": _FORMAT, "rows": self.rows,
                "columns": {name: sketch.to_json() for name, sketch in self.columns.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WindowProfile:
        try:
            columns: dict[str, ColumnSketch] = {}
            for name, c in data["columns"].items():
                if c["kind"] == "numeric":
                    columns[name] = NumericSketch(
                        int(c["count"]), int(c["nulls"]), c.get("min"), c.get("max"), c.get("mean"), c.get("m2"),
                        Histogram.from_json(c["histogram"]), QuantileSketch.from_json(c["quantiles"]))
                elif c["kind"] == "categorical":
                    columns[name] = CategoricalSketch(int(c["count"]), int(c["nulls"]),
                                                      tuple((str(v), int(n)) for v, n in c["counts"]), int(c["other"]))
                else:
                    raise ValueError(f"unknown column kind {c['kind']!r}")
            return cls(int(data["rows"]), columns)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"malformed window profile: {exc}", field="profile") from None


def _names(available: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    if wanted is None:
        return list(available)
    present = set(available)
    return [name for name in wanted if name in present]


def _sketch_column(column: pa.ChunkedArray, reference: ColumnSketch | None) -> ColumnSketch | None:
    kind = kind_of(column.type)
    if reference is not None and (kind is not None or pa.types.is_null(column.type)):
        kind = reference.kind
    if kind == "numeric":
        try:
            values, missing = sorted_finite(column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # text where numbers were expected
            values, missing = None, 0
        if values is not None:
            edges = reference.histogram.edges if isinstance(reference, NumericSketch) else None
            edges = edges or None  # a reference with no values has no edges: bin on this window's own
            return sketching.numeric_from_sorted(values, missing, edges, BINS)
    if kind is None and not pa.types.is_null(column.type):
        return None
    # Categorical from here on (a column of nulls only has nothing to tell its kind by).
    names, counts, nulls = category_counts(column)
    return categorical(int(counts.sum()), nulls, dict(zip(names, counts.tolist(), strict=True)))


def _batches(files: Sequence[Path], columns: Sequence[str] | None, batch_rows: int) -> Iterable[pa.RecordBatch]:
    import pyarrow.parquet as pq

    from shipyard.datasets._tables import reading

    for path in files:
        with reading(str(path)):
            parquet = pq.ParquetFile(path)
            names = None if columns is None else [c for c in columns if c in parquet.schema_arrow.names]
            yield from parquet.iter_batches(batch_size=batch_rows, columns=names, use_threads=False)
