"""Data and prediction drift: compare a current window with a reference, column by column.

:func:`detect_drift` accepts, on either side, raw data (pandas or polars DataFrame,
Arrow table) or a summary: a :class:`~shipyard.monitoring.WindowProfile`, a stored
dataset :class:`~shipyard.datasets.Profile`, or a dataset version or handle (its
stored profile). When both sides are raw data the statistics are exact and equal
scipy's; when either side is a summary they are computed from the sketches (see
:mod:`shipyard.monitoring._compare` for the approximations) and ``report.method`` is
``"sketch"``.

Default test per column, from its kind and the smaller side's count of non-missing
values ``n`` (the defaults of Evidently's data-drift preset, so verdicts compare):

=============  ======================  ==========================================
kind           n ≤ 1,000               n > 1,000
=============  ======================  ==========================================
numeric        ``ks``: p-value < 0.05  ``wasserstein`` (normalised) ≥ 0.1
categorical    ``chi2``: p-value < 0.05  ``jensenshannon`` ≥ 0.1
=============  ======================  ==========================================

``tests={"age": "psi"}`` overrides a column's test (``ks``, ``wasserstein``,
``psi``, ``jensenshannon`` for numeric columns; ``chi2``, ``psi``,
``jensenshannon`` for categorical ones), ``thresholds={"age": 0.2}`` its threshold.
``report.columns[c].scores`` holds every statistic computed for the column (KS,
Wasserstein raw and normalised, PSI, Jensen–Shannon; chi² for categorical columns),
whichever decides; the KS p-value only when KS decides, as it costs milliseconds on
large samples. Tests with a p-value flag drift when the p-value is below the threshold; distances
(``wasserstein`` in reference standard deviations, ``psi``, ``jensenshannon``) when
the statistic is at or above it (default 0.1 each). ``statistic`` is always the
test's statistic (KS D, chi², or the distance): larger means more drift.

Every column gets a ``status`` rather than an exception or a NaN: ``ok``,
``constant`` (both sides hold the same single value: statistic 0, not drifted),
``empty`` (a side has no rows), ``all_null`` (a side's values are all missing),
``too_few_rows`` (fewer than ``min_count`` non-missing values on a side),
``missing_in_current``, ``missing_in_reference``, or ``kind_changed`` (numeric on
one side, categorical on the other: a schema change, see
:func:`~shipyard.monitoring.check_quality`). Only ``ok`` and ``constant``
columns have a verdict; the dataset drifts when the share of drifted columns among
them is at least ``share_threshold`` (default 0.5). ``prediction_column`` is
compared the same way, reported as ``report.prediction`` and left out of the share.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"age": rng.normal(40, 10, 5000)})
>>> cur = pd.DataFrame({"age": rng.normal(50, 10, 5000)})
>>> report = detect_drift(ref, cur)
>>> report.drifted, report.columns["age"].test
(True, 'wasserstein')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.monitoring._compare import Comparison, compare_categorical, compare_numeric, compare_sketches
from shipyard.monitoring._profile import WindowProfile

__all__ = ["DEFAULT_THRESHOLDS", "SMALL_SAMPLE", "STATUSES", "TESTS", "ColumnDrift", "DriftReport", "detect_drift"]

TESTS = {"numeric": ("ks", "wasserstein", "psi", "jensenshannon"), "categorical": ("chi2", "psi", "jensenshannon")}
DEFAULT_THRESHOLDS = {"ks": 0.05, "chi2": 0.05, "wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1}
P_VALUE_TESTS = ("ks", "chi2")
SMALL_SAMPLE = 1000
STATUSES = ("ok", "constant", "empty", "all_null", "too_few_rows", "missing_in_current", "missing_in_reference",
            "kind_changed")
_STATISTIC = {"ks": "ks", "chi2": "chi2", "wasserstein": "wasserstein_normed", "psi": "psi",
              "jensenshannon": "jensenshannon"}


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one column; ``scores`` holds every statistic computed for it."""

    column: str
    kind: str | None
    test: str | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool
    status: str = "ok"
    reference_count: int = 0
    current_count: int = 0
    reference_missing: int = 0
    current_missing: int = 0
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        """The value to chart and alert on: the test's statistic (larger means more drift)."""
        return self.statistic


@dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts and the dataset's: ``drifted`` when ``drift_share ≥ share_threshold``."""

    columns: Mapping[str, ColumnDrift]
    drift_share: float
    drifted: bool
    share_threshold: float = 0.5
    prediction: ColumnDrift | None = None
    method: str = "exact"
    reference_rows: int = 0
    current_rows: int = 0

    @property
    def drifted_columns(self) -> list[str]:
        return [name for name, column in self.columns.items() if column.drifted]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; :meth:`from_dict` reads it back."""
        out = asdict(self)
        out["columns"] = [asdict(c) for c in self.columns.values()]
        out["drifted_columns"] = self.drifted_columns
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        try:
            columns = {c["column"]: ColumnDrift(**c) for c in data["columns"]}
            prediction = ColumnDrift(**data["prediction"]) if data.get("prediction") else None
            return cls(columns, float(data["drift_share"]), bool(data["drifted"]), float(data["share_threshold"]),
                       prediction, str(data.get("method", "exact")), int(data.get("reference_rows", 0)),
                       int(data.get("current_rows", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed drift report: {exc}", field="report") from None


def detect_drift(reference: Any, current: Any, *, columns: Sequence[str] | None = None,
                 tests: Mapping[str, str] | None = None, thresholds: Mapping[str, float] | None = None,
                 prediction_column: str | None = None, share_threshold: float = 0.5, min_count: int = 5,
                 threads: int = 2) -> DriftReport:
    """Compare ``current`` with ``reference``; see the module docstring for tests and statuses."""
    _check_arguments(min_count, share_threshold)
    sides = _Sides.of(resolve_input(reference, "reference"), resolve_input(current, "current"), columns,
                      prediction_column)
    names = _names(columns, sides.reference_kinds, sides.current_kinds, prediction_column)
    _check_options(tests, thresholds, names, sides.reference_kinds, sides.current_kinds)

    def one(name: str) -> ColumnDrift:
        return _column_drift(sides, name, (tests or {}).get(name), (thresholds or {}).get(name), min_count)

    todo = [*names, *([prediction_column] if prediction_column else [])]
    if threads > 1 and not sides.sketch and len(todo) > 1:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="shipyard-drift") as pool:
            results = list(pool.map(one, todo))
    else:
        results = [one(name) for name in todo]
    prediction = results.pop() if prediction_column else None
    judged = [r for r in results if r.status in ("ok", "constant")]
    share = sum(r.drifted for r in judged) / len(judged) if judged else 0.0
    return DriftReport({r.column: r for r in results}, share, bool(judged) and share >= share_threshold,
                       share_threshold, prediction, "sketch" if sides.sketch else "exact", *sides.rows)


def _check_arguments(min_count: int, share_threshold: float) -> None:
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise InvalidInput(f"min_count must be an integer ≥ 1, got {min_count!r}", field="min_count")
    if isinstance(share_threshold, bool) or not isinstance(share_threshold, (int, float)) \
            or not 0 < share_threshold <= 1:
        raise InvalidInput(f"share_threshold must be in (0, 1], got {share_threshold!r}", field="share_threshold")


@dataclass(frozen=True)
class _Sides:
    """Both sides in one comparable form, with each column's kind (None: neither numeric nor categorical).

    WindowProfiles when either side is a summary (``sketch``: statistics from the
    sketches), Arrow tables when both are raw data (exact statistics).
    """

    reference: Any
    current: Any
    reference_kinds: dict[str, str | None]
    current_kinds: dict[str, str | None]
    sketch: bool

    @classmethod
    def of(cls, ref: Any, cur: Any, columns: Sequence[str] | None, prediction_column: str | None) -> _Sides:
        """``ref`` and ``cur`` as :func:`resolve_input` returns them, brought to one form."""
        from shipyard.monitoring._frames import as_table, kind_of

        if not isinstance(ref, WindowProfile) and not isinstance(cur, WindowProfile):
            ref, cur = as_table(ref), as_table(cur)
            return cls(ref, cur, {f.name: kind_of(f.type) for f in ref.schema},
                       {f.name: kind_of(f.type) for f in cur.schema}, sketch=False)
        if not isinstance(ref, WindowProfile):
            wanted = None if columns is None else [*columns, *([prediction_column] if prediction_column else [])]
            ref = WindowProfile.of(ref, columns=wanted)
        if not isinstance(cur, WindowProfile):
            cur = WindowProfile.of(cur, reference=ref)  # binned on the reference's edges
        return cls(ref, cur, {n: s.kind for n, s in ref.columns.items()},
                   {n: s.kind for n, s in cur.columns.items()}, sketch=True)

    @property
    def rows(self) -> tuple[int, int]:
        """The rows of the reference and of the current side."""
        if self.sketch:
            return self.reference.rows, self.current.rows
        return self.reference.num_rows, self.current.num_rows


def _column_drift(sides: _Sides, name: str, test: str | None, threshold: float | None,
                  min_count: int) -> ColumnDrift:
    """The verdict on column ``name``, by ``test`` (None: the default for its kind and sample size)."""
    ref_kinds, cur_kinds = sides.reference_kinds, sides.current_kinds
    kind = ref_kinds.get(name) or cur_kinds.get(name)
    if name not in ref_kinds or name not in cur_kinds:
        status = "missing_in_reference" if name not in ref_kinds else "missing_in_current"
        return ColumnDrift(name, kind, None, None, None, None, False, status)
    if ref_kinds[name] != cur_kinds[name]:
        return _kind_mismatch(name, sides.reference, sides.current, ref_kinds[name], cur_kinds[name])

    def ks_p_value(n: int) -> bool:  # the KS p-value costs milliseconds: only when it decides
        return test == "ks" or (test is None and _default_test("numeric", n) == "ks")

    if sides.sketch:
        compared = compare_sketches(sides.reference.columns[name], sides.current.columns[name], min_count,
                                    ks_p_value)
    else:
        compare = compare_numeric if kind == "numeric" else compare_categorical
        compared = compare(sides.reference.column(name), sides.current.column(name), min_count, ks_p_value)
    return _verdict(name, compared, test, threshold, min_count)


def resolve_input(data: Any, name: str) -> Any:
    """A WindowProfile for summaries (profiles, dataset versions and handles), the data itself otherwise."""
    from shipyard.datasets import DatasetHandle, DatasetVersion, Profile

    if isinstance(data, WindowProfile):
        return data
    if isinstance(data, Profile):
        return WindowProfile.from_dataset_profile(data)
    version = data.version if isinstance(data, DatasetHandle) else data
    if isinstance(version, DatasetVersion):
        if version.profile is None:
            raise InvalidInput(f"dataset version {version.ref} has no stored profile (not tabular?)", field=name)
        return WindowProfile.from_dataset_profile(version.profile)
    return data


def _names(columns: Sequence[str] | None, ref: Mapping[str, str | None], cur: Mapping[str, str | None],
           prediction: str | None) -> list[str]:
    if isinstance(columns, str):
        raise InvalidInput("columns must be a list of column names, not a string", field="columns")
    if columns is not None:
        unknown = [c for c in columns if c not in ref and c not in cur]
        if unknown:
            raise InvalidInput(f"columns {unknown} are in neither the reference nor the current data",
                               field="columns")
        unsupported = [c for c in columns if (ref.get(c) or cur.get(c)) is None]
        if unsupported:
            raise InvalidInput(f"columns {unsupported} are neither numeric nor categorical", field="columns")
        return [c for c in columns if c != prediction]
    names = [n for n in ref if (ref[n] or cur.get(n))] + [n for n in cur if n not in ref and cur[n] is not None]
    return [n for n in names if n != prediction]


def _check_options(tests: Mapping[str, str] | None, thresholds: Mapping[str, float] | None, names: list[str],
                   ref: Mapping[str, str | None], cur: Mapping[str, str | None]) -> None:
    for column, test in (tests or {}).items():
        kind = ref.get(column) or cur.get(column)
        if kind is None:
            raise InvalidInput(f"tests names column {column!r}, which is not compared", field=f"tests.{column}")
        if test not in TESTS[kind]:
            raise InvalidInput(f"test {test!r} does not apply to {kind} column {column!r}; "
                               f"choose one of {list(TESTS[kind])}", field=f"tests.{column}")
    for column, threshold in (thresholds or {}).items():
        if column not in ref and column not in cur:
            raise InvalidInput(f"thresholds names column {column!r}, which is not compared",
                               field=f"thresholds.{column}")
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not math.isfinite(threshold) \
                or threshold < 0:
            raise InvalidInput(f"threshold of {column!r} must be a finite number ≥ 0, got {threshold!r}",
                               field=f"thresholds.{column}")


def _kind_mismatch(name: str, ref: Any, cur: Any, ref_kind: str | None, cur_kind: str | None) -> ColumnDrift:
    """Numeric on one side, categorical on the other; unless one side holds no value at all."""
    present, missing = [], []
    for side in (ref, cur):
        if isinstance(side, WindowProfile):
            present.append(side.columns[name].count)
            missing.append(side.columns[name].nulls)
        else:
            column = side.column(name)
            present.append(len(column) - column.null_count)
            missing.append(column.null_count)
    counts: dict[str, Any] = {"reference_count": present[0], "current_count": present[1],
                              "reference_missing": missing[0], "current_missing": missing[1]}
    if ref_kind is None or cur_kind is None or min(present) == 0:
        empty = min(p + m for p, m in zip(present, missing, strict=True)) == 0
        return ColumnDrift(name, ref_kind or cur_kind, None, None, None, None, False,
                           "empty" if empty else "all_null", **counts)
    return ColumnDrift(name, ref_kind, None, None, None, None, False, "kind_changed", **counts)


def _verdict(name: str, c: Comparison, test: str | None, threshold: float | None, min_count: int) -> ColumnDrift:
    counts: dict[str, Any] = {"reference_count": c.reference_count, "current_count": c.current_count,
                              "reference_missing": c.reference_missing, "current_missing": c.current_missing}
    test = test or _default_test(c.kind, min(c.reference_count, c.current_count))
    threshold = DEFAULT_THRESHOLDS[test] if threshold is None else float(threshold)
    status = _status(c, min_count)
    if status == "constant":
        p_value = 1.0 if test in P_VALUE_TESTS else None
        return ColumnDrift(name, c.kind, test, 0.0, p_value, threshold, False, status, **counts)
    if status != "ok":
        return ColumnDrift(name, c.kind, test, None, None, threshold, False, status, **counts)
    statistic = c.scores[_STATISTIC[test]]
    p_value = c.scores.get(f"{test}_p_value")
    drifted = p_value < threshold if p_value is not None else statistic >= threshold
    return ColumnDrift(name, c.kind, test, statistic, p_value, threshold, bool(drifted), status, scores=c.scores,
                       **counts)


def _default_test(kind: str, n: int) -> str:
    if kind == "numeric":
        return "ks" if n <= SMALL_SAMPLE else "wasserstein"
    return "chi2" if n <= SMALL_SAMPLE else "jensenshannon"


def _status(c: Comparison, min_count: int) -> str:
    if c.constant:
        return "constant"
    for count, missing in ((c.reference_count, c.reference_missing), (c.current_count, c.current_missing)):
        if count + missing == 0:
            return "empty"
    if min(c.reference_count, c.current_count) == 0:
        return "all_null"
    if min(c.reference_count, c.current_count) < min_count:
        return "too_few_rows"
    return "ok"
