"""Signatures: inference from examples, YAML round trips, and the validation rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard.errors import InvalidInput
from shipyard.models import ColumnSpec, Signature, infer_signature


@pytest.fixture
def people() -> Signature:
    frame = pd.DataFrame(
        {
            "age": np.array([31, 45, 52], dtype=np.int64),
            "income": [1.5, np.nan, 3.0],
            "city": ["Oslo", "Lima", "Pune"],
        }
    )
    return infer_signature(frame)


# -- inference ---------------------------------------------------------------------


def test_dataframe_infers_columns_with_dtypes_and_optional_for_missing_values(people: Signature) -> None:
    assert people.kind == "columns"
    assert [(c.name, c.dtype, c.shape, c.optional) for c in people.inputs] == [
        ("age", "int64", None, False),
        ("income", "float64", None, True),
        ("city", "string", None, False),
    ]


def test_ndarray_infers_one_tensor_with_a_batch_dimension() -> None:
    sig = infer_signature(np.zeros((4, 3, 2), dtype=np.float32), np.zeros(4, dtype=np.int64))
    assert sig.kind == "tensor"
    assert sig.inputs == [ColumnSpec("input", "float32", shape=(-1, 3, 2))]
    assert sig.outputs == [ColumnSpec("output", "int64", shape=(-1,))]


def test_dict_of_arrays_infers_named_tensors() -> None:
    sig = infer_signature({"ids": np.arange(4), "pixels": np.ones((4, 8), dtype=np.uint8)})
    assert sig.kind == "tensor"
    assert [(c.name, c.dtype, c.shape) for c in sig.inputs] == [
        ("ids", "int64", (-1,)),
        ("pixels", "uint8", (-1, 8)),
    ]


def test_records_infer_columns() -> None:
    sig = infer_signature([{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}])
    assert sig.kind == "columns"
    assert [(c.name, c.dtype) for c in sig.inputs] == [("a", "float64"), ("b", "string")]


def test_dataframe_output_is_described_by_columns() -> None:
    sig = infer_signature(np.zeros((2, 2)), pd.DataFrame({"score": [0.1, 0.2]}))
    assert sig.outputs == [ColumnSpec("score", "float64")]


def test_signature_round_trips_through_yaml(people: Signature) -> None:
    tensor = infer_signature(np.zeros((2, 3), dtype=np.float32), np.zeros(2))
    for sig in (people, tensor):
        assert Signature.from_dict(yaml.safe_load(yaml.safe_dump(sig.to_dict()))) == sig


def test_optional_int_column_is_refused_because_it_cannot_hold_a_missing_value() -> None:
    with pytest.raises(InvalidInput, match="cannot hold a missing value") as caught:
        ColumnSpec("n", "int64", optional=True)
    assert caught.value.field == "n"


def test_unknown_dtype_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown dtype"):
        ColumnSpec("n", "float128x")


# -- columns -----------------------------------------------------------------------


def test_missing_column_names_it(people: Signature) -> None:
    with pytest.raises(InvalidInput, match="column 'age' is missing") as caught:
        people.validate({"income": [1.0], "city": ["Oslo"]})
    assert caught.value.field == "age"


def test_string_in_a_float_column_names_the_column_and_dtypes(people: Signature) -> None:
    with pytest.raises(InvalidInput, match="'income'.*float64") as caught:
        people.validate([{"age": 3, "income": "abc", "city": "Oslo"}])
    assert caught.value.field == "income"


def test_string_column_of_a_dataframe_in_a_float_column_is_refused(people: Signature) -> None:
    frame = pd.DataFrame({"age": [3], "income": ["1.5"], "city": ["Oslo"]})
    with pytest.raises(InvalidInput) as caught:
        people.validate(frame)
    assert caught.value.field == "income"


def test_float_with_a_fractional_part_in_an_int_column_is_refused(people: Signature) -> None:
    with pytest.raises(InvalidInput, match="fractional") as caught:
        people.validate({"age": [3.5], "income": [1.0], "city": ["Oslo"]})
    assert caught.value.field == "age"


def test_whole_floats_into_an_int_column_are_cast(people: Signature) -> None:
    out = people.validate({"age": [3.0], "income": [1.0], "city": ["Oslo"]})
    assert out["age"].dtype == np.int64 and out["age"].tolist() == [3]


def test_number_in_a_string_column_is_refused(people: Signature) -> None:
    with pytest.raises(InvalidInput) as caught:
        people.validate({"age": [3], "income": [1.0], "city": [7]})
    assert caught.value.field == "city"


def test_mixed_columns_come_back_as_a_dataframe_in_signature_order_without_extras(people: Signature) -> None:
    out = people.validate({"city": ["Oslo"], "extra": [1], "income": [2.0], "age": [4]})
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["age", "income", "city"]


def test_optional_column_may_be_absent_and_is_filled_with_nan(people: Signature) -> None:
    out = people.validate([{"age": 3, "city": "Oslo"}, {"age": 4, "city": "Lima"}])
    assert out["income"].isna().all() and len(out) == 2


def test_record_lacking_a_required_key_is_refused(people: Signature) -> None:
    with pytest.raises(InvalidInput, match="missing from record 1") as caught:
        people.validate([{"age": 3, "city": "Oslo"}, {"city": "Lima"}])
    assert caught.value.field == "age"


def test_int_column_into_a_float_signature_is_cast_silently() -> None:
    sig = infer_signature(pd.DataFrame({"a": [0.5], "b": [1.5]}))
    out = sig.validate(pd.DataFrame({"b": np.array([2, 3], dtype=np.int32), "a": [1, 2]}))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert out.tolist() == [[1.0, 2.0], [2.0, 3.0]]


def test_uniform_columns_accept_an_ndarray_by_position_and_one_row_as_a_1d_array() -> None:
    sig = infer_signature(pd.DataFrame({"a": [0.5], "b": [1.5]}))
    assert sig.validate(np.array([[1, 2]])).tolist() == [[1.0, 2.0]]
    assert sig.validate(np.array([1.0, 2.0])).shape == (1, 2)
    assert sig.validate({"a": 1.0, "b": 2.0}).tolist() == [[1.0, 2.0]]  # scalars: one row


def test_ndarray_of_the_wrong_width_for_columns_is_refused() -> None:
    sig = infer_signature(pd.DataFrame({"a": [0.5], "b": [1.5]}))
    with pytest.raises(InvalidInput, match=r"expected \(n, 2\)") as caught:
        sig.validate(np.zeros((1, 3)))
    assert caught.value.field == "input"


def test_an_ndarray_with_the_right_dtype_and_width_passes_untouched() -> None:
    sig = infer_signature(pd.DataFrame({"a": [0.5], "b": [1.5]}))
    row = np.array([[1.0, 2.0]])
    assert sig.validate(row) is row


def test_columns_of_different_lengths_are_refused() -> None:
    sig = infer_signature(pd.DataFrame({"a": [0.5], "b": [1.5]}))
    with pytest.raises(InvalidInput, match="rows"):
        sig.validate({"a": [1.0, 2.0], "b": [1.0]})


def test_unsupported_input_type_is_refused() -> None:
    sig = infer_signature(pd.DataFrame({"a": [0.5]}))
    with pytest.raises(InvalidInput, match="expected a DataFrame"):
        sig.validate(42)


# -- tensors -----------------------------------------------------------------------


def test_wrong_tensor_width_names_the_tensor() -> None:
    sig = infer_signature(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(InvalidInput, match=r"tensor 'input' has shape \(2, 4\); expected \(n, 5\)") as caught:
        sig.validate(np.zeros((2, 4), dtype=np.float32))
    assert caught.value.field == "input"


def test_tensor_without_its_batch_dimension_is_one_row() -> None:
    sig = infer_signature(np.zeros((3, 5), dtype=np.float32))
    assert sig.validate(np.ones(5)).shape == (1, 5)


def test_tensor_dtype_is_cast_safely_and_float64_narrows_to_float32() -> None:
    sig = infer_signature(np.zeros((3, 2), dtype=np.float32))
    assert sig.validate(np.array([[1, 2]], dtype=np.int64)).dtype == np.float32
    assert sig.validate([[0.5, 1.5]]).dtype == np.float32


def test_float_tensor_into_an_int_signature_is_refused() -> None:
    sig = infer_signature(np.zeros((3, 2), dtype=np.int32))
    with pytest.raises(InvalidInput, match="tensor 'input'"):
        sig.validate(np.array([[0.5, 1.0]]))


def test_int_values_out_of_range_are_refused() -> None:
    sig = infer_signature(np.zeros((3, 2), dtype=np.int8))
    assert sig.validate(np.array([[1, 2]])).dtype == np.int8
    with pytest.raises(InvalidInput, match="out of range"):
        sig.validate(np.array([[1000, 2]]))


def test_named_tensors_are_checked_one_by_one() -> None:
    sig = infer_signature({"ids": np.arange(4), "pixels": np.ones((4, 8), dtype=np.float32)})
    out = sig.validate({"pixels": np.ones((1, 8)), "ids": [7], "ignored": [0]})
    assert list(out) == ["ids", "pixels"] and out["pixels"].dtype == np.float32
    with pytest.raises(InvalidInput, match="tensor 'ids' is missing") as caught:
        sig.validate({"pixels": np.ones((1, 8))})
    assert caught.value.field == "ids"
    with pytest.raises(InvalidInput, match="tensor 'pixels' has shape"):
        sig.validate({"ids": [1], "pixels": np.ones((1, 7))})
