"""Performance metrics equal scikit-learn's; undefined ones are None with a reason; CBPE
estimates match the realised metrics on calibrated probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.errors import InvalidInput
from shipyard.monitoring import Metrics, classification_metrics, estimate_performance, regression_metrics

metrics = pytest.importorskip("sklearn.metrics")


def binary(n: int = 2_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated probabilities: P(y = 1) is exactly ``p``."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, n)
    return (rng.random(n) < p).astype(int), p


def test_binary_metrics_equal_scikit_learn() -> None:
    y, p = binary()
    predicted = (p >= 0.5).astype(int)
    m = classification_metrics(y, predicted, p)
    assert m.average == "binary" and m.rows == y.size and m.reasons == {}
    assert m["accuracy"] == pytest.approx(metrics.accuracy_score(y, predicted))
    assert m["precision"] == pytest.approx(metrics.precision_score(y, predicted))
    assert m["recall"] == pytest.approx(metrics.recall_score(y, predicted))
    assert m["f1"] == pytest.approx(metrics.f1_score(y, predicted))
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, p))
    assert m["log_loss"] == pytest.approx(metrics.log_loss(y, p))


def test_string_labels_two_probability_columns_and_ties() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes", "no"])
    p_yes = np.array([0.2, 0.8, 0.5, 0.5, 0.9, 0.1])  # tied scores share their rank
    predicted = np.where(p_yes >= 0.5, "yes", "no")
    m = classification_metrics(pd.Series(y), pa.array(predicted), np.column_stack([1 - p_yes, p_yes]))
    assert m["precision"] == pytest.approx(metrics.precision_score(y, predicted, pos_label="yes"))
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc_score(y == "yes", p_yes))
    assert m["log_loss"] == pytest.approx(metrics.log_loss(y, p_yes, labels=["no", "yes"]))
    flipped = classification_metrics(y, predicted, 1 - p_yes, positive="no")
    assert flipped["recall"] == pytest.approx(metrics.recall_score(y, predicted, pos_label="no"))


def test_multiclass_metrics_are_macro_averages_equal_to_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    proba = rng.dirichlet([1, 2, 3], 1_500)
    y = np.array([rng.choice(3, p=row) for row in proba])
    predicted = proba.argmax(axis=1)
    m = classification_metrics(y, predicted, proba)
    assert m.average == "macro"
    assert m["precision"] == pytest.approx(metrics.precision_score(y, predicted, average="macro"))
    assert m["recall"] == pytest.approx(metrics.recall_score(y, predicted, average="macro"))
    assert m["f1"] == pytest.approx(metrics.f1_score(y, predicted, average="macro"))
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, proba, multi_class="ovr"))
    assert m["log_loss"] == pytest.approx(metrics.log_loss(y, proba))


def test_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(10, 2, 500)
    predicted = y + rng.normal(0, 1, 500)
    m = regression_metrics(y, predicted)
    assert m["mae"] == pytest.approx(metrics.mean_absolute_error(y, predicted))
    assert m["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(y, predicted)))
    assert m["r2"] == pytest.approx(metrics.r2_score(y, predicted))


def test_empty_and_single_class_windows_give_none_with_a_reason() -> None:
    empty = classification_metrics([], [], [])
    assert empty.rows == 0 and set(empty.values.values()) == {None}
    assert empty.reasons["accuracy"] == "no labelled rows"
    one_class = classification_metrics([1, 1, 1], [1, 0, 1], [0.9, 0.4, 0.8])
    assert one_class["roc_auc"] is None and "single class" in one_class.reasons["roc_auc"]
    assert one_class["accuracy"] == pytest.approx(2 / 3) and one_class["log_loss"] is not None
    never_positive = classification_metrics([0, 1, 0], [0, 0, 0])
    assert never_positive["precision"] is None and never_positive.reasons["precision"] == "no positive predictions"
    assert never_positive["roc_auc"] is None and never_positive.reasons["roc_auc"] == "no probabilities given"
    constant = regression_metrics([3.0, 3.0], [2.0, 4.0])
    assert constant["r2"] is None and constant["mae"] == 1.0
    assert regression_metrics([], [])["mae"] is None


def test_unlabelled_rows_are_left_out() -> None:
    m = classification_metrics(np.array([1.0, np.nan, 0.0, np.nan]), [1, 1, 0, 0])
    assert m.rows == 2 and m["accuracy"] == 1.0
    assert regression_metrics([1.0, np.nan, 3.0], [1.0, 5.0, 2.0]).rows == 2


@pytest.mark.parametrize(("call", "field"), [
    (lambda: classification_metrics([0, 1], [0]), "y_pred"),
    (lambda: classification_metrics([0, 1, 2], [0, 1, 2], [0.1, 0.2, 0.3]), "proba"),
    (lambda: classification_metrics([0, 1], [0, 1], np.ones((2, 3))), "proba"),
    (lambda: regression_metrics([1.0, 2.0], [1.0]), "y_pred"),
    (lambda: estimate_performance([0.5, 1.5]), "proba"),
])
def test_malformed_inputs_raise_invalid_input(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field


def test_cbpe_estimates_the_realised_metrics_when_calibrated() -> None:
    y, p = binary(200_000, seed=3)
    realised = classification_metrics(y, (p >= 0.5).astype(int), p)
    estimated = estimate_performance(p)
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert estimated[name] == pytest.approx(realised[name], abs=0.01), name


def test_cbpe_multiclass_and_two_columns() -> None:
    rng = np.random.default_rng(4)
    proba = rng.dirichlet([2, 2, 2], 100_000)
    y = (rng.random(proba.shape[0])[:, None] > proba.cumsum(axis=1)).sum(axis=1)
    realised = classification_metrics(y, proba.argmax(axis=1), proba)
    estimated = estimate_performance(proba)
    assert estimated.average == "macro"
    for name in ("accuracy", "f1", "roc_auc"):
        assert estimated[name] == pytest.approx(realised[name], abs=0.01), name
    p = rng.random(10)
    assert estimate_performance(np.column_stack([1 - p, p])) == estimate_performance(p)


def test_cbpe_of_an_empty_window_and_of_certain_probabilities() -> None:
    assert estimate_performance([]).rows == 0 and estimate_performance([])["accuracy"] is None
    certain = estimate_performance([1.0, 1.0])
    assert certain["accuracy"] == 1.0 and certain["roc_auc"] is None and "roc_auc" in certain.reasons


def test_metrics_round_trip_through_a_dict() -> None:
    m = classification_metrics([0, 1, 1], [0, 1, 0])
    assert Metrics.from_dict(m.to_dict()) == m
