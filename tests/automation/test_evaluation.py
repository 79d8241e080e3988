"""Champion against challenger on the same rows: the paired bootstrap and McNemar decide, seeded,
with min_improvement and alpha; the evidence is a metric table with intervals."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard.automation import Evaluation, Scored, compare
from shipyard.errors import InvalidInput


def labels(n: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, n)


def noisy(y: np.ndarray, wrong: float, seed: int) -> np.ndarray:
    """``y`` with a share ``wrong`` of its rows flipped."""
    flip = np.random.default_rng(seed).random(len(y)) < wrong
    return np.where(flip, 1 - y, y)


def test_a_clearly_better_challenger_wins_the_paired_bootstrap_with_an_interval_above_zero() -> None:
    y = labels()
    result = compare(Evaluation(("accuracy",), bootstrap_samples=500), y, Scored(noisy(y, 0.3, 1)),
                     Scored(noisy(y, 0.1, 2)), seed=7)
    assert result.passed and result.rows == 400
    row = result.table[0]
    assert row["metric"] == "accuracy" and row["challenger"] > row["champion"]
    low, high = row["interval"]
    assert 0 < low < row["difference"] < high and row["level"] == 0.95
    assert result.test["name"] == "paired_bootstrap" and result.test["gain_lower_bound"] > 0


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    y = labels()
    ev = Evaluation(("accuracy",), bootstrap_samples=300)
    champion, challenger = Scored(noisy(y, 0.3, 1)), Scored(noisy(y, 0.25, 2))
    first = compare(ev, y, champion, challenger, seed=3)
    assert compare(ev, y, champion, challenger, seed=3).table == first.table
    assert compare(ev, y, champion, challenger, seed=4).table != first.table


def test_a_tie_is_not_a_win_even_with_min_improvement_zero() -> None:
    y = labels()
    same = Scored(noisy(y, 0.2, 1))
    result = compare(Evaluation(("accuracy",), bootstrap_samples=200), y, same, same, seed=1)
    assert not result.passed and "does not beat" in result.reason


def test_a_small_gain_below_min_improvement_loses_though_the_point_estimate_is_higher() -> None:
    y = labels(2000)
    result = compare(Evaluation(("accuracy",), min_improvement=0.05, bootstrap_samples=300), y,
                     Scored(noisy(y, 0.20, 1)), Scored(noisy(y, 0.18, 2)), seed=1)
    assert result.table[0]["difference"] > 0 and not result.passed
    assert result.test["min_improvement"] == 0.05


def test_lower_is_better_metrics_count_a_drop_as_a_gain() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    result = compare(Evaluation(("rmse", "mae"), higher_is_better=False, bootstrap_samples=200), y,
                     Scored(y + rng.normal(scale=1.0, size=300)), Scored(y + rng.normal(scale=0.2, size=300)), seed=2)
    assert result.passed and [r["metric"] for r in result.table] == ["rmse", "mae"]
    assert result.table[0]["difference"] < 0


def test_auc_is_scored_on_probabilities_with_an_interval() -> None:
    y = labels(300)
    rng = np.random.default_rng(1)
    good = np.clip(y * 0.6 + rng.random(300) * 0.4, 0, 1)
    poor = rng.random(300)
    result = compare(Evaluation(("auc",), bootstrap_samples=100), y, Scored((poor > 0.5).astype(int), poor),
                     Scored((good > 0.5).astype(int), good), seed=1)
    assert result.passed and result.table[0]["interval"][0] > 0
    with pytest.raises(InvalidInput) as info:  # no probabilities: the metric cannot be computed
        compare(Evaluation(("auc",), bootstrap_samples=100), y, Scored(y), Scored(y), seed=1)
    assert info.value.field == "metrics"  # type: ignore[attr-defined]


def test_mcnemar_decides_on_the_rows_one_model_gets_right_and_the_other_wrong() -> None:
    y = labels(600)
    champion = noisy(y, 0.25, 1)
    better = compare(Evaluation(("accuracy",), test="mcnemar", bootstrap_samples=100), y, Scored(champion),
                     Scored(noisy(y, 0.1, 2)), seed=1)
    assert better.passed and better.test["name"] == "mcnemar" and better.test["p_value"] < 0.05
    assert better.test["challenger_only_right"] > better.test["champion_only_right"]
    same = compare(Evaluation(("accuracy",), test="mcnemar", bootstrap_samples=100), y, Scored(champion),
                   Scored(champion.copy()), seed=1)
    assert not same.passed and same.test["p_value"] == 1.0


def test_with_no_champion_the_first_model_passes_on_its_own_numbers() -> None:
    y = labels()
    result = compare(Evaluation(("accuracy",), bootstrap_samples=100), y, None, Scored(noisy(y, 0.1, 1)), seed=1)
    assert result.passed and result.table[0]["champion"] is None and "first model" in result.reason


def test_no_rows_and_an_unknown_metric_are_refused() -> None:
    assert not compare(Evaluation(("accuracy",), bootstrap_samples=100), np.array([]), None,
                       Scored(np.array([])), seed=1).passed
    with pytest.raises(InvalidInput) as info:
        compare(Evaluation(("wow",), bootstrap_samples=100), labels(), None, Scored(labels()), seed=1)
    assert info.value.field == "evaluation.metrics"  # type: ignore[attr-defined]
