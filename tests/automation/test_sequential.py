"""The canary's sequential test: its error rates on simulated canaries, early stops, its limit."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard.automation import Sequential
from shipyard.automation._sequential import SequentialTest
from shipyard.errors import InvalidInput

RUNS = 1000


def _canary(test: SequentialTest, p_champion: float, p_challenger: float, seed: int, *, champion_step: int = 25,
            challenger_step: int = 5, cap: int = 100_000) -> tuple[str, int]:
    """One simulated canary, looked at after every batch of labelled answers: (outcome, challenger answers)."""
    rng = np.random.default_rng(seed)
    k1 = n1 = k2 = n2 = 0
    while n2 < cap:
        k1 += int(rng.binomial(champion_step, p_champion))
        n1 += champion_step
        k2 += int(rng.binomial(challenger_step, p_challenger))
        n2 += challenger_step
        decision = test.decide((k1, n1), (k2, n2))
        if decision.outcome != "continue":
            return ("inconclusive" if decision.inconclusive else decision.outcome), n2
    return "continue", n2


def _rate(outcomes: list[tuple[str, int]], outcome: str) -> float:
    return sum(o == outcome for o, _ in outcomes) / len(outcomes)


@pytest.mark.parametrize(("accuracy", "challenger_step"), [(0.8, 5), (0.8, 25), (0.3, 5), (0.95, 2)])
def test_a_challenger_worse_by_min_effect_passes_at_most_alpha_of_the_time(accuracy: float,
                                                                           challenger_step: int) -> None:
    test = SequentialTest(alpha=0.05, power=0.8, min_effect=0.05)
    outcomes = [_canary(test, accuracy, accuracy - 0.05, seed, challenger_step=challenger_step)
                for seed in range(RUNS)]
    assert {o for o, _ in outcomes} <= {"pass", "fail"}  # every canary ends on a boundary
    assert _rate(outcomes, "pass") <= 0.05


def test_a_challenger_as_good_passes_with_at_least_the_power_asked() -> None:
    test = SequentialTest(alpha=0.05, power=0.8, min_effect=0.05)
    outcomes = [_canary(test, 0.8, 0.8, seed) for seed in range(RUNS)]
    assert _rate(outcomes, "pass") >= 0.8


def test_a_clearly_worse_or_better_challenger_is_decided_early() -> None:
    test = SequentialTest(alpha=0.05, power=0.8, min_effect=0.02)
    worse = [_canary(test, 0.9, 0.7, seed) for seed in range(200)]
    better = [_canary(test, 0.8, 0.9, seed) for seed in range(200)]
    assert _rate(worse, "fail") == 1.0 and _rate(better, "pass") == 1.0
    # A fixed-size test at this level and power needs ~3,000 challenger answers to see 0.02.
    assert np.median([n for _, n in worse]) <= 60 and np.median([n for _, n in better]) <= 600


def test_reaching_max_samples_undecided_fails_as_inconclusive_and_never_passes() -> None:
    test = SequentialTest(alpha=0.05, power=0.8, min_effect=0.01, max_samples=200)
    outcomes = [_canary(test, 0.8, 0.795, seed) for seed in range(200)]
    assert _rate(outcomes, "inconclusive") > 0.5
    assert max(n for _, n in outcomes) <= 200
    concluded = test.conclude((800, 1000), (80, 100))
    assert (concluded.outcome, concluded.inconclusive) == ("fail", True)
    assert concluded.to_json()["challenger"] == {"correct": 80, "labelled": 100, "accuracy": 0.8}


def test_nothing_is_decided_before_min_samples_on_each_side() -> None:
    test = SequentialTest(alpha=0.05, power=0.8, min_effect=0.05, min_samples=30)
    assert test.decide((1000, 1000), (0, 29)).outcome == "continue"
    assert test.decide((1000, 1000), (0, 30)).outcome == "fail"


def test_the_policy_s_sequential_settings_make_the_test() -> None:
    test = SequentialTest.of(Sequential(alpha=0.01, power=0.9, min_effect=0.03, max_samples=500))
    assert (test.alpha, test.power, test.min_effect, test.max_samples) == (0.01, 0.9, 0.03, 500)


@pytest.mark.parametrize(("options", "field"), [
    ({"alpha": 0.0}, "alpha"), ({"alpha": 0.6}, "alpha"), ({"power": 1.0}, "power"),
    ({"alpha": 0.3, "power": 0.2}, "power"), ({"min_effect": 0.0}, "min_effect"),
    ({"max_samples": 0}, "max_samples"), ({"min_samples": 1}, "min_samples"),
])
def test_bad_settings_are_refused_naming_the_field(options: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SequentialTest(**options)
    assert caught.value.context["field"] == field


def test_counts_that_cannot_be_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        SequentialTest().decide((10, 5), (1, 5))
    assert caught.value.context["field"] == "champion"
