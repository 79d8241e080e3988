"""Computing profiles: one vectorised pass per column, columns in parallel.

Each column is loaded on its own (from an in-memory table, or only that column's
chunks from Parquet files) and summarised with Arrow kernels and numpy: no Python
loop touches individual values. Columns run in a thread pool; Arrow and numpy
release the GIL, so two cores profile two columns at once, and memory holds only
the columns in flight.

Measured on this 2-core machine (5,000,000 rows x 30 columns of Parquet, 845 MB):
DuckDB's ``approx_quantile`` alone took 10 s and its scalar aggregates 3.4 s for
all columns, against about 3 s here for everything.

Pass ``reference=`` to bin numeric columns on a stored profile's histogram edges,
so that a live window's histogram merges with (and compares to) the reference
exactly — what monitoring does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.datasets._profile import TOP_K, ColumnProfile, Profile
from shipyard.datasets._sketches import Histogram, HyperLogLog, QuantileSketch, hash_utf8, hash_values

__all__ = ["column_kind", "profile_columns", "profile_parquet", "profile_table"]

Loader = Callable[[], pa.ChunkedArray]


def column_kind(type_: pa.DataType) -> str:
    """``numeric``, ``categorical``, ``temporal`` or ``other`` for an Arrow type."""
    if pa.types.is_dictionary(type_):
        return column_kind(type_.value_type) if not pa.types.is_string(type_.value_type) else "categorical"
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "numeric"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_boolean(type_):
        return "categorical"
    if pa.types.is_temporal(type_):
        return "temporal"
    return "other"


def profile_table(table: pa.Table, *, reference: Profile | None = None, threads: int = 2) -> Profile:
    """Profile an in-memory Arrow table."""
    columns = [(f.name, f.type, _constant(table.column(i))) for i, f in enumerate(table.schema)]
    return profile_columns(table.num_rows, columns, reference=reference, threads=threads)


def profile_parquet(paths: Sequence[Path], schema: pa.Schema, rows: int, *, reference: Profile | None = None,
                    threads: int = 2) -> Profile:
    """Profile Parquet files that share ``schema``, reading one column at a time."""
    import pyarrow.parquet as pq

    def loader(name: str) -> Loader:
        def load() -> pa.ChunkedArray:
            chunks: list[pa.Array] = []
            for path in paths:
                chunks += pq.ParquetFile(path).read(columns=[name], use_threads=False).column(0).chunks
            return pa.chunked_array(chunks, type=schema.field(name).type)
        return load

    columns = [(f.name, f.type, loader(f.name)) for f in schema]
    return profile_columns(rows, columns, reference=reference, threads=threads)


def profile_columns(rows: int, columns: Sequence[tuple[str, pa.DataType, Loader]], *,
                    reference: Profile | None = None, threads: int = 2) -> Profile:
    """Profile columns given as ``(name, type, loader)``; each loader returns the column."""
    edges = {}
    if reference is not None:
        edges = {c.name: c.histogram.edges for c in reference if c.histogram is not None and c.histogram.edges}

    def one(column: tuple[str, pa.DataType, Loader]) -> ColumnProfile:
        name, type_, load = column
        return profile_column(name, type_, load(), edges.get(name))

    if threads <= 1 or len(columns) <= 1:
        results = [one(c) for c in columns]
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="shipyard-profile") as pool:
            results = list(pool.map(one, columns))
    return Profile(rows, tuple(results))


def profile_column(name: str, type_: pa.DataType, data: pa.ChunkedArray,
                   edges: tuple[float, ...] | None = None) -> ColumnProfile:
    """The profile of one column (nulls counted, then dropped)."""
    kind = column_kind(type_)
    base = ColumnProfile(name, str(type_), kind, nulls=data.null_count)
    if pa.types.is_dictionary(type_):
        data = data.cast(type_.value_type)
        type_ = type_.value_type
    present = pc.drop_null(data) if data.null_count else data
    if kind == "numeric":
        return _numeric(base, present, type_, edges)
    if kind == "categorical":
        return _categorical(base, present, type_)
    if kind == "temporal":
        return _temporal(base, present)
    return _replace(base, count=len(present))


def _blocks(data: pa.ChunkedArray, size: int = 1 << 20) -> Iterator[pa.Array]:
    for chunk in data.chunks:
        for start in range(0, len(chunk), size):
            yield chunk.slice(start, size)


def _array(block: pa.Array, dtype: type) -> np.ndarray:
    return np.asarray(block.to_numpy(zero_copy_only=False), dtype=dtype)


def _constant(column: pa.ChunkedArray) -> Loader:
    return lambda: column


def _numpy(data: pa.ChunkedArray, dtype: type) -> np.ndarray:
    if data.num_chunks == 1:
        return np.asarray(data.chunk(0).to_numpy(zero_copy_only=False), dtype=dtype)
    if data.num_chunks == 0:
        return np.empty(0, dtype=dtype)
    return np.concatenate([np.asarray(c.to_numpy(zero_copy_only=False), dtype=dtype) for c in data.chunks])


def _numeric(base: ColumnProfile, data: pa.ChunkedArray, type_: pa.DataType,
             edges: tuple[float, ...] | None) -> ColumnProfile:
    if pa.types.is_decimal(type_) or pa.types.is_float16(type_):
        data, type_ = data.cast(pa.float64()), pa.float64()
    nan = 0
    if pa.types.is_floating(type_):
        is_nan = pc.is_nan(data)
        nan = pc.sum(is_nan).as_py() or 0
        if nan:
            data = pc.filter(data, pc.invert(is_nan))
    if len(data) == 0:
        return _replace(base, nan=nan)
    integer = pa.types.is_integer(type_) and not pa.types.is_uint64(type_)
    dtype = np.int64 if integer else np.float64
    # numpy's min/max are several times faster than Arrow's min_max kernel here.
    lows, highs = zip(*[(v.min(), v.max()) for v in (_array(b, dtype) for b in _blocks(data))], strict=True)
    low, high = min(lows).item(), max(highs).item()
    mean = pc.mean(data).as_py()
    m2 = pc.variance(data, ddof=0).as_py() * len(data)
    if not (np.isfinite(low) and np.isfinite(high)):  # infinities: the simple, whole-column path
        values = _numpy(data, np.float64)
        finite_values = values[np.isfinite(values)]
        return _replace(base, count=len(data), nan=nan, min=low, max=high, mean=mean, m2=m2,
                        hll=HyperLogLog.of(values), histogram=Histogram.of(finite_values, edges, finite=True),
                        quantiles=QuantileSketch.of(finite_values))
    # Block by block (at most 1 Mi values, 8 MB): no copy of the whole column, and each
    # block stays in cache across the passes; the sketches of the blocks merge exactly.
    own = edges is None
    edges = edges or Histogram.equal_edges(float(low), float(high))
    hll, hist, samples = HyperLogLog.empty(), None, []
    rng, total = np.random.default_rng(0), len(data)
    for block in _blocks(data):
        values = _array(block, dtype)
        floats = values.astype(np.float64) if integer else values
        hll = hll.merge(HyperLogLog.of(values))
        part = Histogram.of(floats, edges, finite=True, contained=own)
        hist = part if hist is None else hist.merge(part)
        take = QuantileSketch.sample_size(len(floats), total)
        samples.append(floats if take is None else floats[rng.integers(0, len(floats), take)])
    sample = np.concatenate(samples)
    quantiles = (QuantileSketch.of(sample) if len(sample) == total
                 else QuantileSketch.of_sample(sample, total, float(low), float(high)))
    # A discrete column (a 0/1 flag, ages, ratings) keeps every value's count, so that
    # its statistics are exact rather than read off the quantile sketch. The HLL
    # estimate (near exact at this size) spares high-cardinality columns the count.
    top = _value_counts(data) if hll.estimate() <= 2 * TOP_K else None
    return _replace(base, count=total, nan=nan, min=low, max=high, mean=mean, m2=m2, hll=hll, histogram=hist,
                    quantiles=quantiles, top=top, top_complete=top is not None,
                    distinct_exact=len(top) if top is not None else None)


def _value_counts(data: pa.ChunkedArray) -> tuple[tuple[float | int, int], ...] | None:
    """Every distinct finite value with its count, most frequent first (None past TOP_K values)."""
    counted = pc.value_counts(data)
    values = counted.field("values").to_numpy(zero_copy_only=False)
    counts = counted.field("counts").to_numpy(zero_copy_only=False).astype(np.int64)
    if values.dtype.kind == "f":  # -0.0 and 0.0 hash apart in Arrow but are one value
        values, where = np.unique(values + 0.0, return_inverse=True)
        counts = np.bincount(where, weights=counts).astype(np.int64)
    if len(values) > TOP_K:
        return None
    order = np.lexsort((values, -counts))
    return tuple((v.item(), int(c)) for v, c in zip(values[order], counts[order], strict=True))


def _categorical(base: ColumnProfile, data: pa.ChunkedArray, type_: pa.DataType) -> ColumnProfile:
    if len(data) == 0:
        return base
    counted = pc.value_counts(data)
    values, counts = counted.field("values"), counted.field("counts")
    order = pc.sort_indices(pa.table({"c": counts, "v": values}),
                            sort_keys=[("c", "descending"), ("v", "ascending")])
    top_index = order[:TOP_K]
    top = tuple(zip(values.take(top_index).to_pylist(), counts.take(top_index).to_pylist(), strict=True))
    if pa.types.is_boolean(type_):
        hashes = hash_values(values.to_numpy(zero_copy_only=False))
    else:
        text = values.cast(pa.large_string())
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
        hashes = hash_utf8(offsets, np.frombuffer(text.buffers()[2] or b"", dtype=np.uint8))
    extremes = pc.min_max(data)
    return _replace(
        base, count=len(data), min=extremes["min"].as_py(), max=extremes["max"].as_py(),
        hll=HyperLogLog.of_hashes(hashes), distinct_exact=len(values), top=top,
        top_complete=len(values) <= TOP_K)


def _temporal(base: ColumnProfile, data: pa.ChunkedArray) -> ColumnProfile:
    if len(data) == 0:
        return base
    extremes = pc.min_max(data)
    storage = pa.int32() if data.type.bit_width == 32 else pa.int64()
    ticks = _numpy(data.cast(storage), np.int64)
    return _replace(base, count=len(data), min=_iso(extremes["min"].as_py()), max=_iso(extremes["max"].as_py()),
                    hll=HyperLogLog.of(ticks))


def _iso(value: object) -> object:
    iso = getattr(value, "isoformat", None)
    return iso() if iso else value


def _replace(base: ColumnProfile, **changes: object) -> ColumnProfile:
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]
