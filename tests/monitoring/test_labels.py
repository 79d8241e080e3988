"""Labels: checked on the way in, joined to predictions by request and row, latest arrival wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.monitoring._labels import decode_label, encode_label, join_labels, latest_labels, normalize_labels


def labels(ids: list[str], rows: list[int], values: list[object], arrived: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"model": "m", "request_id": ids, "row": np.asarray(rows, dtype=np.int64),
                         "label": pd.Series(values, dtype=object), "arrived_at": np.asarray(arrived, dtype=np.int64)})


def test_a_label_without_a_row_covers_the_whole_request_and_an_exact_row_wins() -> None:
    predictions = pd.DataFrame({"request_id": ["a", "a", "a", "b", "c"], "row": [0, 1, 2, 0, 0]})
    known = labels(["a", "a", "b"], [-1, 1, 0], [1, 0, "x"], [1, 1, 1])
    assert join_labels(predictions, known).tolist() == [1, 0, 1, "x", None]


def test_the_latest_arrival_wins_across_sources() -> None:
    stored = labels(["a", "b"], [-1, -1], [0, 0], [10, 10])
    feedback = labels(["a"], [-1], [1.0], [20])
    merged = latest_labels(stored, feedback).sort_values("request_id")
    assert merged["label"].tolist() == [1.0, 0]
    assert len(latest_labels()) == 0


def test_normalising_fills_rows_and_models_and_keeps_the_last_duplicate() -> None:
    frame = normalize_labels(pd.DataFrame({"request_id": ["a", "a", "b"], "y": [1, 2, np.nan]}), model="churn",
                             label="y")
    assert frame["model"].tolist() == ["churn", "churn"] and frame["row"].tolist() == [-1, -1]
    assert frame["label"].tolist() == [2, None]


@pytest.mark.parametrize("value", [1, 2.5, "yes", True, None])
def test_labels_round_trip_as_json_scalars(value: object) -> None:
    assert decode_label(encode_label(value)) == value
    assert decode_label(encode_label(np.int64(3))) == 3 and decode_label(encode_label(float("nan"))) is None


def test_infinite_labels_and_non_tables_are_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_labels(pd.DataFrame({"request_id": ["a"], "label": [float("inf")]}))
    assert info.value.field == "label"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput):
        normalize_labels("not a table")
