"""Input examples stored inside a model package: Parquet or numpy files, never pickles.

A DataFrame (or list of records) is stored as ``input_example.parquet``, an ndarray as
``input_example.npy`` and a dict of arrays as ``input_example.npz``; object arrays are
refused, because numpy could only store them by pickling.

>>> import tempfile, numpy as np
>>> folder = Path(tempfile.mkdtemp())
>>> name = save_example(np.arange(6).reshape(2, 3), folder)
>>> name, load_example(folder / name).shape
('input_example.npy', (2, 3))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models._signature import as_table_or_tensor

__all__ = ["load_example", "save_example"]

_STEM = "input_example"


def save_example(example: Any, directory: Path) -> str:
    """Write ``example`` into ``directory``; return the file name recorded in the manifest."""
    data = as_table_or_tensor(example, field_name="input_example")
    if isinstance(data, pd.DataFrame):
        name = f"{_STEM}.parquet"
        try:
            data.reset_index(drop=True).to_parquet(Path(directory) / name, index=False)
        except (TypeError, ValueError, ImportError) as exc:  # pyarrow refuses mixed object columns
            raise InvalidInput(
                f"input_example cannot be stored as Parquet: {exc}", field="input_example"
            ) from None
        return name
    arrays = data if isinstance(data, dict) else {"": data}
    for key, array in arrays.items():
        if array.dtype.kind == "O":
            raise InvalidInput(
                f"input_example array {key or 'input'!r} has dtype object, which numpy can only "
                "store by pickling; pass a DataFrame or a typed array",
                field="input_example",
            )
    if isinstance(data, dict):
        name = f"{_STEM}.npz"
        np.savez(Path(directory) / name, **data)
    else:
        name = f"{_STEM}.npy"
        np.save(Path(directory) / name, data, allow_pickle=False)
    return name


def load_example(path: Path) -> pd.DataFrame | np.ndarray | dict[str, np.ndarray]:
    """Read an example written by :func:`save_example` (pickles are refused)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    raise InvalidInput(f"unknown input example format: {path.name}", field="input_example")
