"""Data quality of live inputs: missing values, type errors, out-of-range values, unseen
categories and schema changes, against a data contract, a model signature and/or a
reference profile.

* ``contract`` (:class:`~shipyard.datasets.Contract`): every rule is checked by
  :func:`shipyard.datasets.validate`; its violations become issues (``type`` →
  ``type_error``, ``min``/``max`` → ``out_of_range``, ``allowed`` →
  ``unseen_category``, ``nullable`` → ``null_values``, other rules keep their name).
* ``signature`` (:class:`~shipyard.models.Signature` with column inputs): a column
  whose values cannot become the declared dtype is a ``type_error`` (a text column
  declared numeric counts only the values that do not read as numbers); a required
  input that is absent is a missing column.
* ``reference`` (:class:`~shipyard.monitoring.WindowProfile`): numeric values outside
  the reference's [min, max] are ``out_of_range``; categories the reference never
  saw are ``unseen_category`` (only when the reference kept every category).

Schema changes: ``missing_columns`` are expected (by any of the three) but absent;
``new_columns`` are present but expected by none (only when something was given).
A pandas column of mixed Python types is read as text and reported as a type error.

>>> import pandas as pd
>>> from shipyard.datasets import Column, Contract
>>> report = check_quality(pd.DataFrame({"age": [30, None, 250]}),
...                        contract=Contract([Column("age", "number", max=120)]))
>>> report.missing_rates["age"], [(i.column, i.kind, i.count) for i in report.issues]
(0.3333333333333333, [('age', 'out_of_range', 1)])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.monitoring._profile import WindowProfile
from shipyard.monitoring._sketch import CategoricalSketch, NumericSketch

__all__ = ["ISSUE_KINDS", "QualityIssue", "QualityReport", "check_quality"]

ISSUE_KINDS = ("missing_column", "new_column", "type_error", "out_of_range", "unseen_category", "null_values")
_RULES = {"type": "type_error", "min": "out_of_range", "max": "out_of_range", "allowed": "unseen_category",
          "nullable": "null_values", "present": "missing_column", "unexpected": "new_column"}
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_SAMPLES = 5


@dataclass(frozen=True)
class QualityIssue:
    """One problem in one column (``column`` is None for table-level contract rules)."""

    column: str | None
    kind: str
    count: int
    message: str
    source: str  # "contract", "signature", "reference" or "data"
    examples: tuple[Any, ...] = ()


@dataclass(frozen=True)
class QualityReport:
    """Missing rate per column (None for a window with no rows) and every issue found."""

    rows: int
    missing_rates: Mapping[str, float | None]
    issues: tuple[QualityIssue, ...] = ()
    new_columns: tuple[str, ...] = ()
    missing_columns: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.issues

    @property
    def violations(self) -> int:
        """Offending values over all issues (a missing or new column counts once)."""
        return sum(1 if i.kind in ("missing_column", "new_column") else i.count for i in self.issues)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "passed": self.passed, "violations": self.violations,
                "missing_rates": dict(self.missing_rates), "new_columns": list(self.new_columns),
                "missing_columns": list(self.missing_columns),
                "issues": [asdict(i) | {"examples": [_plain(e) for e in i.examples]} for i in self.issues]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        try:
            issues = tuple(QualityIssue(i["column"], i["kind"], int(i["count"]), i["message"], i["source"],
                                        tuple(i.get("examples", ()))) for i in data["issues"])
            return cls(int(data["rows"]), dict(data["missing_rates"]), issues, tuple(data["new_columns"]),
                       tuple(data["missing_columns"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed quality report: {exc}", field="report") from None


def check_quality(frame: Any, *, contract: Any = None, signature: Any = None,
                  reference: WindowProfile | None = None) -> QualityReport:
    """Check one window of inputs; see the module docstring for what each source adds."""
    table, issues = _table(frame)
    rows = table.num_rows
    names = table.column_names
    rates = {name: _missing(table.column(name)) / rows if rows else None for name in names}
    expected: dict[str, str] = {}  # column -> who expects it
    if contract is not None:
        from shipyard.datasets import validate

        for spec in contract.columns:
            expected.setdefault(spec.name, "contract")
        for v in validate(table, contract, samples=_SAMPLES).violations:
            if v.rule not in ("present", "unexpected"):
                issues.append(QualityIssue(v.column, _RULES.get(v.rule, v.rule), v.count, v.message, "contract",
                                           tuple(v.samples)))
    if signature is not None:
        if getattr(signature, "kind", None) != "columns":
            raise InvalidInput("check_quality needs a signature of table columns", field="signature")
        for spec in signature.inputs:
            expected.setdefault(spec.name, "signature")
            if spec.name in names:
                issues += _dtype_issues(table.column(spec.name), spec.name, spec.dtype)
    if reference is not None:
        for name, sketch in reference.columns.items():
            expected.setdefault(name, "reference")
            if name in names:
                issues += _reference_issues(table.column(name), name, sketch)
    optional = {s.name for s in signature.inputs if s.optional} if signature is not None else set()
    missing = tuple(n for n in expected if n not in names and n not in optional)
    new = tuple(n for n in names if n not in expected) if expected else ()
    issues += [QualityIssue(n, "missing_column", rows, "column is missing", expected[n]) for n in missing]
    issues += [QualityIssue(n, "new_column", rows, "column is not expected", "data") for n in new]
    return QualityReport(rows, rates, tuple(issues), new, missing)


def _table(frame: Any) -> tuple[pa.Table, list[QualityIssue]]:
    """The frame as Arrow; pandas columns of mixed types become text, each a type error."""
    from shipyard.monitoring._frames import as_table

    issues: list[QualityIssue] = []
    if type(frame).__module__.split(".")[0] == "pandas" and hasattr(frame, "columns"):
        arrays = {}
        for name in frame.columns:
            series = frame[name]
            try:
                arrays[str(name)] = pa.array(series, from_pandas=True)
            except (pa.ArrowException, TypeError, ValueError):
                kinds = series.dropna().map(lambda v: type(v).__name__)
                common = kinds.value_counts()
                odd = kinds[kinds != common.index[0]]
                issues.append(QualityIssue(str(name), "type_error", int(odd.size),
                                           f"mixed value types {sorted(common.index)}; mostly {common.index[0]}",
                                           "data", tuple(series[odd.index[:_SAMPLES]].tolist())))
                arrays[str(name)] = pa.array(series.map(lambda v: None if v is None or v != v else str(v)))
        return pa.table(arrays), issues
    return as_table(frame), issues


def _missing(column: pa.ChunkedArray) -> int:
    count = column.null_count
    if pa.types.is_floating(column.type):
        count += pc.sum(pc.is_nan(column)).as_py() or 0
    return int(count)


def _dtype_issues(column: pa.ChunkedArray, name: str, dtype: str) -> list[QualityIssue]:
    if dtype in ("object", "string"):
        return []
    kind = np.dtype(dtype).kind
    type_ = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    numeric = pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_)
    if kind in "iuf" and (numeric or pa.types.is_boolean(type_) or pa.types.is_null(type_)):
        if kind in "iu" and pa.types.is_floating(type_):  # floats must be whole to become integers
            values = pc.drop_null(column)
            bad = pc.and_(pc.is_finite(values), pc.not_equal(values, pc.floor(values)))
            count = pc.sum(bad).as_py() or 0
            if count:
                return [QualityIssue(name, "type_error", int(count), f"values are not whole numbers ({dtype})",
                                     "signature", tuple(pc.filter(values, bad).slice(0, _SAMPLES).to_pylist()))]
        return []
    if kind in "iuf" and (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
        text = column.cast(type_)
        bad = pc.invert(pc.match_substring_regex(text, _NUMBER))
        count = pc.sum(bad).as_py() or 0
        if not count:
            return []
        return [QualityIssue(name, "type_error", int(count), f"text values that are not numbers ({dtype})",
                             "signature", tuple(pc.filter(text, bad).slice(0, _SAMPLES).to_pylist()))]
    if kind == "b" and pa.types.is_boolean(type_):
        return []
    if kind == "M" and pa.types.is_temporal(type_):
        return []
    count = len(column) - column.null_count
    if not count:
        return []
    return [QualityIssue(name, "type_error", count, f"type is {column.type}, expected {dtype}", "signature")]


def _reference_issues(column: pa.ChunkedArray, name: str, sketch: Any) -> list[QualityIssue]:
    type_ = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if isinstance(sketch, NumericSketch) and sketch.count and (
            pa.types.is_integer(type_) or pa.types.is_floating(type_)):
        bad = pc.or_(pc.less(column, sketch.min), pc.greater(column, sketch.max))
        count = pc.sum(bad).as_py() or 0
        if count:
            return [QualityIssue(name, "out_of_range", int(count),
                                 f"values outside the reference range [{sketch.min}, {sketch.max}]", "reference",
                                 tuple(pc.filter(column, bad).slice(0, _SAMPLES).to_pylist()))]
    if isinstance(sketch, CategoricalSketch) and sketch.count and not sketch.other:
        text = column.cast(type_) if type_ != column.type else column
        if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
            text = text.cast(pa.string())
        known = pa.array([value for value, _ in sketch.counts], type=pa.string()).cast(text.type)
        bad = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, value_set=known)))
        count = pc.sum(bad).as_py() or 0
        if count:
            unseen = pc.unique(pc.filter(text, bad)).slice(0, _SAMPLES).to_pylist()
            return [QualityIssue(name, "unseen_category", int(count), "categories the reference never saw",
                                 "reference", tuple(unseen))]
    return []


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
