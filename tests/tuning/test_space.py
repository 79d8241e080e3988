"""Spaces: the helpers, the YAML form, and bad input refused naming the parameter, nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard import Client, InvalidInput
from shipyard.tuning import check_space, choice, loguniform, randint, space_from_mapping, tune, uniform
from tests.tuning import objectives


@pytest.mark.parametrize(("space", "field", "words"), [
    ({"lr": uniform(0.1, 0.1)}, "space.lr", "empty range"),
    ({"lr": uniform(0.5, 0.1)}, "space.lr", "inverted range"),
    ({"depth": randint(10, 2)}, "space.depth", "inverted range"),
    ({"lr": loguniform(0.0, 1.0)}, "space.lr", "low > 0"),
    ({"kernel": choice([])}, "space.kernel", "at least one option"),
    ({"kernel": choice("rbf")}, "space.kernel", "list of options"),
    ({"kernel": choice([object()])}, "space.kernel", "strings, numbers"),
    ({"depth": randint(1.5, 3)}, "space.depth.low", "an integer"),  # type: ignore[arg-type]
    ({"lr": uniform(0.0, float("nan"))}, "space.lr.high", "finite"),
    ({"x": uniform(0.0, 1.0, step=2.0)}, "space.x.step", "at most high - low"),
    ({"x": (0, 1)}, "space.x", "made by uniform"),
    ({}, "space", "empty"),
])
def test_a_bad_range_is_refused_naming_the_parameter(space: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        check_space(space)
    assert caught.value.context["field"] == field


def test_the_helpers_read_back_as_written() -> None:
    space = check_space({"lr": loguniform(1e-4, 1e-1), "depth": randint(2, 10), "kernel": choice(["rbf", "poly"]),
                         "frac": uniform(0.1, 0.9, step=0.1)})
    assert [repr(p) for p in space.values()] == ["loguniform(0.0001, 0.1)", "randint(2, 10)",
                                                 "choice(['rbf', 'poly'])", "uniform(0.1, 0.9, step=0.1)"]


def test_the_yaml_form_gives_the_same_space() -> None:
    data = {"lr": {"loguniform": [1e-4, 0.1]}, "depth": {"randint": [2, 10]}, "kernel": {"choice": ["rbf", "poly"]},
            "frac": {"uniform": [0.1, 0.9, 0.1]}}
    assert space_from_mapping(data) == check_space({"lr": loguniform(1e-4, 0.1), "depth": randint(2, 10),
                                                    "kernel": choice(["rbf", "poly"]),
                                                    "frac": uniform(0.1, 0.9, step=0.1)})


@pytest.mark.parametrize(("data", "field"), [
    ({"lr": {"normal": [0, 1]}}, "space.lr"),
    ({"lr": [0, 1]}, "space.lr"),
    ({"lr": {"uniform": [1]}}, "space.lr"),
    ({"lr": {"uniform": [1, 0]}}, "space.lr"),
    (["lr"], "space"),
])
def test_a_bad_yaml_space_names_the_parameter(data: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        space_from_mapping(data)
    assert caught.value.context["field"] == field


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"space": {"x": uniform(2.0, 1.0)}}, "space.x"),
    ({"n_trials": 0}, "n_trials"),
    ({"direction": "up"}, "direction"),
    ({"sampler": "bayes"}, "sampler"),
    ({"pruner": "early"}, "pruner"),
    ({"executor": "dask"}, "executor"),
    ({"metric": "a b!"}, "metric"),
    ({"sampler": "grid", "space": {"x": uniform(0.0, 1.0)}}, "space.x"),
    ({"pruner_options": {"n_warmup_steps": -1}}, "pruner_options"),
])
def test_bad_arguments_store_nothing(client: Client, kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"space": {"x": uniform(0.0, 1.0)}, "n_trials": 3, "client": client} | kwargs
    space = args.pop("space")
    with pytest.raises(InvalidInput) as caught:
        tune(objectives.bowl_objective, space, **args)
    assert caught.value.context["field"] == field
    assert client.search_runs(filter="tags.`shipyard.kind` = 'search'").items == []
    assert not Path(client.config.home / "shipyard.optuna.db").exists()
