"""Cutting Parquet files into units: whole row groups, slices when they are too few to share, short ones at the end."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.scoring._units import plan_units


def _file(path: Path, rows: int, row_group: int) -> Path:
    pq.write_table(pa.table({"x": list(range(rows))}), path, row_group_size=row_group)
    return path


def test_enough_row_groups_make_one_unit_each_and_the_last_one_per_worker_are_sliced(tmp_path: Path) -> None:
    files = [_file(tmp_path / "a.parquet", 1_000, 250), _file(tmp_path / "b.parquet", 500, 250)]
    units = plan_units(files, batch_rows=50, workers=2)
    assert [(Path(u.path).name, u.row_group, u.first_batch, u.first_row, u.rows) for u in units] == [
        ("a.parquet", 0, 0, 0, 250), ("a.parquet", 1, 0, 250, 250), ("a.parquet", 2, 0, 500, 250),
        ("a.parquet", 3, 0, 750, 250),
        # the last two row groups, one per worker, in slices of whole batches so the workers end together
        ("b.parquet", 0, 0, 1_000, 100), ("b.parquet", 0, 2, 1_100, 100), ("b.parquet", 0, 4, 1_200, 50),
        ("b.parquet", 1, 0, 1_250, 100), ("b.parquet", 1, 2, 1_350, 100), ("b.parquet", 1, 4, 1_450, 50)]
    assert [u.index for u in units] == list(range(10))


def test_one_big_row_group_is_cut_into_slices_of_whole_batches(tmp_path: Path) -> None:
    units = plan_units([_file(tmp_path / "a.parquet", 1_000, 1_000)], batch_rows=100, workers=2)
    assert [(u.first_batch, u.batches, u.first_row, u.rows) for u in units] == [
        (0, 3, 0, 300), (3, 3, 300, 300), (6, 3, 600, 300), (9, 1, 900, 100)]
    assert sum(u.rows for u in units) == 1_000


def test_one_worker_reads_each_row_group_whole(tmp_path: Path) -> None:
    units = plan_units([_file(tmp_path / "a.parquet", 1_000, 1_000)], batch_rows=100, workers=1)
    assert [(u.first_batch, u.batches, u.rows) for u in units] == [(0, 10, 1_000)]
