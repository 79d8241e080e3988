"""What runs in a worker (a local process or a Ray task): score one unit, write its part.

A worker reads its unit's record batches from the input file, checks each batch
(:mod:`shipyard.scoring._checks`), predicts, and appends the kept rows with their
predictions to its own Parquet part through a ``ParquetWriter``, so it holds one batch at
a time whatever the dataset's size. Rejected rows go to the unit's JSON-lines rejects
file with their dataset-wide row index, the reason and the row's values.

The model is loaded once per process (:func:`loaded_model`), from the folder the driver
verified, checked again against the ``model.yaml`` digest the driver pinned. Workers
reach the input, the model and the output folder by path: one host, or a filesystem
every Ray node mounts (as the pipelines' Ray executor needs for the artifact store).
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.errors import ConfigError, InvalidInput
from shipyard.models import Model, load_model
from shipyard.scoring._checks import check_batch, split_refused
from shipyard.scoring._units import Unit

__all__ = ["ScoringJob", "UnitResult", "loaded_model", "score_unit"]


@dataclass(frozen=True)
class ScoringJob:
    """What every unit of one scoring job shares (small: it travels with each unit)."""

    model_dir: str
    manifest_sha256: str
    out_dir: str
    rejects_dir: str
    batch_rows: int
    prediction_column: str = "prediction"
    threads: int | None = None


@dataclass(frozen=True)
class UnitResult:
    """How one unit went: rows read, scored and rejected, its files, its scoring time, where it ran."""

    index: int
    rows: int
    scored: int
    rejected: int
    seconds: float
    part: str | None
    rejects: str | None
    worker: str = ""


# One model per process and job: loading (unpickling, hashing) is paid once per worker,
# not per unit. The cache holds immutable, verified models keyed by their pinned digest.
@functools.lru_cache(maxsize=2)
def loaded_model(model_dir: str, manifest_sha256: str, threads: int | None) -> Model:
    """The verified model at ``model_dir``, loaded once per process."""
    if not Path(model_dir).is_dir():
        raise ConfigError(f"this worker does not see the model folder {model_dir!r}: scoring on a cluster "
                          "needs the driver's Shipyard home on a filesystem every node mounts")
    model = load_model(model_dir, manifest_sha256=manifest_sha256)
    if threads is not None:
        from threadpoolctl import threadpool_limits

        # N processes × all cores each would oversubscribe. After loading, not before: a limit
        # reaches only the native pools already loaded, and unpickling the model is what
        # loads its library's OpenMP and BLAS.
        threadpool_limits(limits=threads)
    return model


def _predictions(model: Model, clean: object, column: str, rows: int) -> list[tuple[str, pa.Array]]:
    out = model.predict(clean)
    if hasattr(out, "columns"):  # a DataFrame: one output column per column
        return [(str(name), pa.array(out[name].to_numpy())) for name in out.columns]
    values = np.asarray(out)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 1 and len(values) == rows:
        return [(column, pa.array(values))]
    if values.ndim == 2 and len(values) == rows:
        return [(f"{column}_{j}", pa.array(values[:, j])) for j in range(values.shape[1])]
    raise InvalidInput(f"the model returned shape {values.shape} for {rows} rows; batch scoring needs one "
                       "prediction (or one row of them) per input row", field="model_uri")


class _Rejects:
    """The unit's rejects file, opened on the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file: object = None

    def add(self, batch: pa.RecordBatch, first_row: int, rows: np.ndarray, reasons: list[str]) -> None:
        if not len(rows):
            return
        if self._file is None:
            self._file = self.path.open("wb")
        values = batch.take(pa.array(rows)).to_pylist()
        lines = [orjson.dumps({"row": first_row + int(r), "reason": reason, "values": v}, default=str)
                 for r, reason, v in zip(rows, reasons, values, strict=True)]
        self._file.write(b"\n".join(lines) + b"\n")  # type: ignore[attr-defined]
        self.count += len(rows)

    def close(self) -> str | None:
        if self._file is None:
            return None
        self._file.close()  # type: ignore[attr-defined]
        return str(self.path)


def score_unit(job: ScoringJob, unit: Unit) -> UnitResult:
    """Score one unit: read, check, predict, append to the unit's part (see the module docstring)."""
    started = time.perf_counter()
    model = loaded_model(job.model_dir, job.manifest_sha256, job.threads)
    signature = model.signature
    assert signature is not None  # the driver refused a model without one
    reader = pq.ParquetFile(unit.path)
    batches = itertools.islice(reader.iter_batches(batch_size=job.batch_rows, row_groups=[unit.row_group],
                                                   use_threads=False),
                               unit.first_batch, unit.first_batch + unit.batches)
    part = Path(job.out_dir) / f"part-{unit.index:06d}.parquet"
    rejects = _Rejects(Path(job.rejects_dir) / f"rejects-{unit.index:06d}.jsonl")
    writer: pq.ParquetWriter | None = None
    rows = scored = 0
    first_row = unit.first_row
    try:
        for batch in batches:
            clean, rejected = check_batch(batch, signature)
            kept = np.setdiff1d(np.arange(batch.num_rows), rejected.rows, assume_unique=True)
            bad, reasons = rejected.rows, rejected.reasons
            try:
                predicted = _predictions(model, clean, job.prediction_column, len(clean)) if len(clean) else []
            except InvalidInput:
                refused, why = split_refused(model, clean)
                bad, reasons = np.concatenate([bad, kept[refused]]), [*reasons, *why]
                keep = np.setdiff1d(np.arange(len(clean)), refused, assume_unique=True)
                kept, clean = kept[keep], clean.iloc[keep]
                predicted = _predictions(model, clean, job.prediction_column, len(clean)) if len(clean) else []
            order = np.argsort(bad, kind="stable")
            rejects.add(batch, first_row, bad[order], [reasons[i] for i in order])
            if len(kept):
                out = batch if len(kept) == batch.num_rows else batch.take(pa.array(kept))
                for name, values in predicted:
                    out = out.append_column(name, values)
                if writer is None:
                    writer = pq.ParquetWriter(part, out.schema, compression="zstd", write_statistics=True)
                writer.write_batch(out, row_group_size=job.batch_rows)
            rows += batch.num_rows
            scored += len(kept)
            first_row += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
        rejects_path = rejects.close()
    return UnitResult(unit.index, rows, scored, rejects.count, time.perf_counter() - started,
                      str(part) if writer is not None else None, rejects_path, f"pid {os.getpid()}")
