"""Cutting a dataset version's Parquet files into units of work.

A unit is a run of record batches inside one row group: ``(file, row group, first
batch, batch count)``, with the dataset-wide index of its first row so rejects can
name rows wherever they were scored. Units are whole row groups when there are enough
of them to keep every worker busy; otherwise each row group is cut into slices. Either
way the last row groups, one per worker, are cut into slices too: units are handed to
whichever worker is free, so small units at the end let the workers finish together,
where whole row groups (seconds each) left the faster ones idle while the last ran.
A slice still decodes the batches of its row group before its own (Parquet reads a row
group's pages in order), which is why only the end is cut when row groups are plenty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

__all__ = ["Unit", "plan_units"]

# Units per worker when row groups are cut: enough that an unlucky last unit costs little.
_UNITS_PER_WORKER = 2
# Slices of each of the last row groups (one per worker), so the last units are short.
_TAIL_SLICES = 4


@dataclass(frozen=True)
class Unit:
    """One unit of work; ``index`` orders the output parts as the input is ordered."""

    index: int
    path: str
    row_group: int
    first_batch: int
    batches: int
    first_row: int
    rows: int


def plan_units(files: Sequence[Path], batch_rows: int, workers: int) -> list[Unit]:
    """The units of ``files`` (in order) for ``workers`` workers reading ``batch_rows`` at a time."""
    groups: list[tuple[str, int, int]] = []
    for file in files:
        meta = pq.ParquetFile(file).metadata
        groups += [(str(file), g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
    groups = [g for g in groups if g[2] > 0]
    slices = max(1, math.ceil(_UNITS_PER_WORKER * workers / max(1, len(groups)))) if workers > 1 else 1
    tail = len(groups) - workers if workers > 1 else len(groups)  # the row groups from here on end the job
    units: list[Unit] = []
    first_row = 0
    for position, (path, group, rows) in enumerate(groups):
        batches = math.ceil(rows / batch_rows)
        cut = max(slices, _TAIL_SLICES) if position >= tail else slices
        per = math.ceil(batches / min(cut, batches))
        for first in range(0, batches, per):
            count = min(per, batches - first)
            unit_rows = min(rows - first * batch_rows, count * batch_rows)
            units.append(Unit(len(units), path, group, first, count, first_row + first * batch_rows, unit_rows))
        first_row += rows
    return units
