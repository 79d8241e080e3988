"""The signature's checks: the input's columns once, then each batch row by row."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shipyard import InvalidInput
from shipyard.models import ColumnSpec, Signature
from shipyard.scoring._checks import check_batch, check_columns

SIGNATURE = Signature([ColumnSpec("age", "int64"), ColumnSpec("income", "float64"),
                       ColumnSpec("note", "float64", optional=True)])


def test_missing_and_extra_columns_are_named_and_passthrough_columns_allowed() -> None:
    schema = pa.schema([("income", pa.float64()), ("id", pa.int64()), ("zip", pa.string())])
    with pytest.raises(InvalidInput, match=r"missing signature columns \['age'\].*extra columns \['zip'\]"):
        check_columns(SIGNATURE, schema, ["id"], "prediction")
    check_columns(SIGNATURE, schema.remove(2).append(pa.field("age", pa.int32())), ["id"], "prediction")


def test_a_column_that_can_never_meet_its_dtype_is_refused() -> None:
    schema = pa.schema([("age", pa.timestamp("ms")), ("income", pa.float64())])
    with pytest.raises(InvalidInput, match="'age' is timestamp"):
        check_columns(SIGNATURE, schema, [], "prediction")


def test_a_prediction_column_that_clashes_with_an_input_column_is_refused() -> None:
    schema = pa.schema([("age", pa.int64()), ("income", pa.float64()), ("score", pa.float64())])
    with pytest.raises(InvalidInput) as refused:
        check_columns(SIGNATURE, schema, ["score"], "score")
    assert refused.value.context["field"] == "prediction_column"


def test_bad_rows_are_set_aside_with_reasons_and_the_rest_kept_in_order() -> None:
    batch = pa.RecordBatch.from_pydict({
        "age": pa.array(["31", None, "x", "40", "7.5"]),
        "income": pa.array([1.0, 2.0, 3.0, float("nan"), 5.0]),
        "note": pa.array([None, None, None, None, None], pa.float64()),
    })
    clean, rejected = check_batch(batch, SIGNATURE)
    assert rejected.rows.tolist() == [1, 2, 3, 4]
    assert rejected.reasons == ["column 'age' is null", "column 'age' holds 'x', not a number",
                                "column 'income' is NaN", "column 'age' holds 7.5, not an int64"]
    assert clean["age"].tolist() == [31.0] and clean["income"].tolist() == [1.0]


def test_a_clean_batch_passes_whole() -> None:
    batch = pa.RecordBatch.from_pydict({"age": pa.array([1, 2], pa.int64()), "income": pa.array([1.0, 2.0])})
    clean, rejected = check_batch(batch, SIGNATURE)
    assert len(clean) == 2 and rejected.rows.tolist() == [] and rejected.reasons == []
