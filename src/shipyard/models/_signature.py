"""Model signatures: the names, dtypes and shapes a model takes and returns.

A signature is inferred from an input example (and the model's output on it) when a
model is saved, stored in ``model.yaml``, and checked on every ``predict``. Two kinds:

``columns``
    Tabular input, inferred from a DataFrame or a list of records: one
    :class:`ColumnSpec` per column (``shape`` is None: one scalar per row).
``tensor``
    Array input, inferred from an ndarray (one tensor named ``"input"``) or a dict of
    arrays (one named tensor per key). ``shape`` holds -1 for the batch dimension.

dtypes are numpy names (``"float64"``, ``"int32"``, ``"bool"``, ``"datetime64[ns]"``)
plus ``"string"`` and ``"object"`` (anything passes).

>>> import pandas as pd
>>> sig = infer_signature(pd.DataFrame({"age": [31.0, 45.0], "income": [1.5, None]}))
>>> [(c.name, c.dtype, c.optional) for c in sig.inputs]
[('age', 'float64', False), ('income', 'float64', True)]
>>> sig.validate({"age": [50]}).tolist()  # int → float is safe; income is optional
[[50.0, nan]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput

__all__ = ["ColumnSpec", "Signature", "infer_signature"]

SignatureKind = Literal["columns", "tensor"]

_NAMED_DTYPES = frozenset({"string", "object"})
# Missing values need a dtype that can hold them; int and bool columns cannot.
_NULLABLE_KINDS = frozenset("fMOU")


@dataclass(frozen=True)
class ColumnSpec:
    """One input or output: a column of a table or a named tensor.

    ``shape`` is None for a table column and a tuple with -1 for the batch dimension
    for a tensor. ``optional`` columns may be absent from the input; they are then
    filled with missing values (NaN, NaT or None), so they must have a dtype that
    can hold one.

    >>> ColumnSpec("pixels", "float32", shape=(-1, 28, 28)).to_dict()
    {'name': 'pixels', 'dtype': 'float32', 'shape': [-1, 28, 28]}
    """

    name: str
    dtype: str
    shape: tuple[int, ...] | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        if self.shape is not None:
            object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if self.dtype not in _NAMED_DTYPES:
            try:
                kind = np.dtype(self.dtype).kind
            except TypeError:
                raise InvalidInput(
                    f"column {self.name!r} has unknown dtype {self.dtype!r}", field=self.name
                ) from None
            if self.optional and kind not in _NULLABLE_KINDS:
                raise InvalidInput(
                    f"optional column {self.name!r} has dtype {self.dtype}, which cannot hold a "
                    "missing value; use a float, string, object or datetime dtype",
                    field=self.name,
                )

    @property
    def numpy_dtype(self) -> np.dtype[Any] | None:
        """The numpy dtype values are cast to; None for ``string`` and ``object``."""
        return None if self.dtype in _NAMED_DTYPES else np.dtype(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """A YAML-safe dict; :meth:`from_dict` reverses it."""
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype}
        if self.shape is not None:
            out["shape"] = list(self.shape)
        if self.optional:
            out["optional"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        shape = data.get("shape")
        return cls(
            name=str(data["name"]),
            dtype=str(data["dtype"]),
            shape=tuple(shape) if shape is not None else None,
            optional=bool(data.get("optional", False)),
        )


@dataclass(frozen=True)
class Signature:
    """What a model takes (``inputs``) and returns (``outputs``, when known).

    :meth:`validate` checks and coerces input before it reaches the model; its rules
    are written down in :mod:`shipyard.models._validation`. The checks a signature
    needs (column order, dtypes, shapes) are worked out once, on first use.
    """

    inputs: list[ColumnSpec]
    outputs: list[ColumnSpec] | None = None
    kind: SignatureKind = "columns"
    _validator: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("columns", "tensor"):
            raise InvalidInput(
                f"signature kind must be 'columns' or 'tensor', got {self.kind!r}", field="kind"
            )
        if not self.inputs:
            raise InvalidInput("a signature needs at least one input", field="inputs")
        names = [spec.name for spec in self.inputs]
        if len(set(names)) != len(names):
            raise InvalidInput(f"signature input names repeat: {names}", field="inputs")

    @property
    def names(self) -> list[str]:
        """The input names, in order."""
        return [spec.name for spec in self.inputs]

    def validate(self, data: Any) -> Any:
        """Check ``data`` against the inputs and return it coerced for the model.

        Accepts a DataFrame, an ndarray, a dict of arrays (or scalars: one row) or a
        list of records. Returns a 2-D ndarray when every column shares one numeric
        dtype (and for a single tensor), a DataFrame for mixed columns, and a dict of
        arrays for named tensors. Raises :class:`~shipyard.errors.InvalidInput` whose
        ``field`` names the offending column or tensor.
        """
        return self.validator(data)

    @property
    def validator(self) -> Callable[[Any], Any]:
        """:meth:`validate` compiled for this signature (column order, dtypes, shapes)."""
        validator = self._validator
        if validator is None:
            # Worked out once per signature, not per call: predict paths are hot.
            from shipyard.models._validation import Validator

            validator = Validator(self).validate
            object.__setattr__(self, "_validator", validator)
        return validator

    def to_dict(self) -> dict[str, Any]:
        """A YAML-safe dict; :meth:`from_dict` reverses it."""
        return {
            "kind": self.kind,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": None if self.outputs is None else [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        outputs = data.get("outputs")
        return cls(
            inputs=[ColumnSpec.from_dict(spec) for spec in data["inputs"]],
            outputs=None if outputs is None else [ColumnSpec.from_dict(spec) for spec in outputs],
            kind=data.get("kind", "columns"),
        )


def infer_signature(input_example: Any, output: Any = None) -> Signature:
    """Infer a signature from an input example and, optionally, the model's output on it.

    A DataFrame or list of records gives ``columns`` (a column holding a missing value
    is marked optional); an ndarray gives one tensor named ``"input"``; a dict of
    arrays gives one tensor per key. Outputs are described the same way.

    >>> import numpy as np
    >>> sig = infer_signature(np.zeros((5, 3), dtype="float32"), np.zeros(5, dtype="int64"))
    >>> sig.kind, sig.inputs[0].shape, sig.outputs[0].shape
    ('tensor', (-1, 3), (-1,))
    """
    example = as_table_or_tensor(input_example, field_name="input_example")
    if isinstance(example, pd.DataFrame):
        kind: SignatureKind = "columns"
        inputs = _columns(example)
    else:
        kind = "tensor"
        inputs = _tensors(example, default_name="input")
    outputs = None if output is None else _describe_output(output)
    return Signature(inputs=inputs, outputs=outputs, kind=kind)


def as_table_or_tensor(data: Any, *, field_name: str) -> pd.DataFrame | np.ndarray | dict[str, np.ndarray]:
    """Normalise an example: records → DataFrame, lists → ndarray, str column names."""
    if isinstance(data, pd.DataFrame):
        if all(isinstance(c, str) for c in data.columns):
            return data
        return data.rename(columns=str)
    if isinstance(data, pd.Series):
        return data.to_frame(name=str(data.name) if data.name is not None else "input")
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, Mapping):
        return {str(k): np.asarray(v) for k, v in data.items()}
    if isinstance(data, list | tuple) and data and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame.from_records(list(data))
    if isinstance(data, list | tuple):
        return np.asarray(data)
    raise InvalidInput(
        f"{field_name} must be a DataFrame, ndarray, dict of arrays or list of records; "
        f"got {type(data).__name__}",
        field=field_name,
    )


def is_missing(value: Any) -> bool:
    """Whether one element of an object array is a missing value (None, NA, NaN)."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _dtype_name(values: pd.Series | np.ndarray) -> tuple[str, bool]:
    """The signature dtype of a column and whether it holds a missing value."""
    dtype = values.dtype
    missing = bool(pd.isna(values).any()) if len(values) else False
    if isinstance(dtype, np.dtype):
        if dtype.kind in "biufM":
            return dtype.name, missing
        if dtype.kind in "US":
            return "string", missing
        present = [v for v in values if not is_missing(v)]
        return ("string" if present and all(isinstance(v, str) for v in present) else "object"), missing
    if isinstance(dtype, pd.StringDtype):
        return "string", missing
    if pd.api.types.is_extension_array_dtype(dtype) and dtype.kind in "biuf":
        # Nullable Int64/boolean with a missing value can only be served as float.
        numpy_dtype = np.dtype(dtype.numpy_dtype)
        if missing and numpy_dtype.kind in "biu":
            return "float64", True
        return numpy_dtype.name, missing
    return "object", missing


def _columns(frame: pd.DataFrame) -> list[ColumnSpec]:
    specs = []
    for name in frame.columns:
        dtype, missing = _dtype_name(frame[name])
        specs.append(ColumnSpec(name=str(name), dtype=dtype, optional=missing))
    return specs


def _tensors(data: np.ndarray | Mapping[str, np.ndarray], *, default_name: str) -> list[ColumnSpec]:
    items = data.items() if isinstance(data, Mapping) else [(default_name, data)]
    specs = []
    for name, value in items:
        array = np.asarray(value)
        dtype, _ = _dtype_name(array.ravel()) if array.ndim else _dtype_name(array.reshape(1))
        shape = (-1, *array.shape[1:]) if array.ndim else (-1,)
        specs.append(ColumnSpec(name=name, dtype=dtype, shape=shape))
    return specs


def _describe_output(output: Any) -> list[ColumnSpec]:
    if isinstance(output, tuple):
        output = {f"output_{i}": value for i, value in enumerate(output)}
    normalised = as_table_or_tensor(output, field_name="output")
    if isinstance(normalised, pd.DataFrame):
        return _columns(normalised)
    return _tensors(normalised, default_name="output")
