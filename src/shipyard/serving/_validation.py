"""Checks at the door: what a request must satisfy before its rows reach a model.

:class:`InputCheck` runs, in order:

1. the model's signature (:meth:`shipyard.models.Signature.validate`): columns or
   tensors present, dtypes safely castable, shapes right. Without a signature the
   input goes through as given;
2. at least one row;
3. no missing or non-finite values (None, NaN, ±inf) in a float column or tensor the
   signature does not mark ``optional``: a model trained without gaps is not asked to
   guess, and the client learns which column is at fault;
4. the model's data contract, when its package has one: ``metadata["data_contract"]``
   in ``model.yaml``, a :class:`shipyard.datasets.Contract` in its dict/YAML form
   (``{"columns": {"age": {"type": "int", "min": 0, "max": 120}}}``). Column rules and
   row checks apply to each request; row-count bounds (meant for datasets) do not.

Every failure is an :class:`~shipyard.errors.InvalidInput` whose ``field`` names the
column or tensor (the HTTP face answers 422).

>>> from shipyard.models._signature import ColumnSpec, Signature
>>> check = InputCheck(Signature([ColumnSpec("age", "float64")]), {"columns": {"age": {"max": 120}}})
>>> check({"age": [31.0]})[1]
1
>>> check({"age": [300.0]})
Traceback (most recent call last):
...
shipyard.errors.InvalidInput: column 'age' breaks the data contract's 'max' rule (1 of 1 rows, e.g. [300.0])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models import Signature

__all__ = ["InputCheck", "count_rows"]


def count_rows(data: Any) -> int:
    """Rows of validated input: an array's first dimension, a frame's length, a dict's first array."""
    if isinstance(data, np.ndarray):
        return int(data.shape[0]) if data.ndim else 1
    if isinstance(data, pd.DataFrame | pd.Series | list | tuple):
        return len(data)
    if isinstance(data, Mapping) and data:
        return count_rows(next(iter(data.values())))
    return 0


def _as_given(data: Any) -> Any:
    if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame.from_records(data)
    return data


class InputCheck:
    """A model's door checks, compiled once; call it with raw input → ``(validated, rows)``."""

    def __init__(self, signature: Signature | None, contract: Mapping[str, Any] | None = None) -> None:
        self.signature = signature
        self._validate = signature.validator if signature is not None else _as_given
        self._names = signature.names if signature is not None else []
        self._label = "tensor" if signature is not None and signature.kind == "tensor" else "column"
        self._required_float = {
            spec.name for spec in (signature.inputs if signature else [])
            if not spec.optional and spec.numpy_dtype is not None and spec.numpy_dtype.kind in "fc"
        }
        self._contract = _load_contract(contract)

    def __call__(self, raw: Any) -> tuple[Any, int]:
        validated = self._validate(raw)
        rows = count_rows(validated)
        if rows <= 0:
            raise InvalidInput("the request has no rows", field="input")
        if self._required_float:
            self._check_finite(validated)
        if self._contract:
            self._check_contract(validated)
        return validated, rows

    def _columns(self, data: Any) -> list[tuple[str, np.ndarray]]:
        if isinstance(data, np.ndarray):
            if self._label == "column" and data.ndim == 2 and data.shape[1] == len(self._names):
                return [(name, data[:, j]) for j, name in enumerate(self._names)]
            return [(self._names[0] if self._names else "input", data)]
        if isinstance(data, pd.DataFrame):
            return [(str(c), data[c].to_numpy()) for c in data.columns]
        if isinstance(data, Mapping):
            return [(str(k), np.asarray(v)) for k, v in data.items()]
        return []

    def _check_finite(self, data: Any) -> None:
        if isinstance(data, np.ndarray) and data.dtype.kind in "fc" and np.isfinite(data).all():
            return  # the common case: one uniform matrix, one vectorised check
        for name, values in self._columns(data):
            if name in self._required_float and values.dtype.kind in "fc" and not np.isfinite(values).all():
                raise InvalidInput(
                    f"{self._label} {name!r} holds a missing or non-finite value, and the signature does "
                    "not mark it optional", field=name)

    def _check_contract(self, data: Any) -> None:
        from shipyard.datasets import validate

        table = {name: values for name, values in self._columns(data) if values.ndim == 1}
        report = validate(table, self._contract, samples=3)
        if report.violations:
            first = report.violations[0]
            where = f"{self._label} {first.column!r}" if first.column else "the request"
            detail = f"{first.count} of {report.rows} rows" + (f", e.g. {first.samples}" if first.samples else "")
            raise InvalidInput(f"{where} breaks the data contract's {first.rule!r} rule ({detail})",
                               field=first.column or "input", report=report.to_json())


def _load_contract(data: Mapping[str, Any] | None) -> Any:
    """The model's :class:`shipyard.datasets.Contract` without row-count bounds, or None."""
    if not data:
        return None
    from shipyard.datasets import Contract

    contract = Contract.from_dict(data)
    return dataclasses.replace(contract, min_rows=None, max_rows=None)  # a request is not a dataset
