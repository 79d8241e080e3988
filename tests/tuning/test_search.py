"""``tune`` on the local executor: trials as child runs, pruning, failures, Optuna parity, storage."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import optuna
import pytest

import shipyard
from shipyard import Client
from shipyard.tuning import SearchFailed, choice, loguniform, randint, tune, uniform
from tests.tuning import objectives

BOWL = {"x": uniform(-5.0, 5.0), "depth": randint(1, 6), "kind": choice(["a", "b", "c"])}


def _trial_runs(client: Client, result: shipyard.tuning.SearchResult) -> list[shipyard.Run]:
    flt = f"tags.`shipyard.tuning.search` = '{result.run_id}'"
    return client.search_runs(experiment_ids=[result.experiment_id], filter=flt, max_results=1000).items


def test_fifty_sklearn_trials_are_fifty_child_runs_with_the_pruned_ones_marked(client: Client) -> None:
    space = {"alpha": loguniform(1e-6, 1.0), "eta0": loguniform(1e-4, 1.0), "loss": choice(["hinge", "log_loss"])}
    started = time.monotonic()
    result = tune(objectives.sgd_classifier, space, n_trials=50, metric="accuracy", direction="maximize",
                  pruner="median", pruner_options={"n_startup_trials": 5, "n_warmup_steps": 1}, seed=0,
                  experiment="sgd", client=client)
    took = time.monotonic() - started
    runs = _trial_runs(client, result)
    assert len(runs) == 50 and result.n_trials == 50, took
    assert {r.parent_run_id for r in runs} == {result.run_id}
    pruned = [r for r in runs if r.tags["shipyard.tuning.state"] == "PRUNED"]
    assert pruned and result.pruned == len(pruned)
    assert {r.status.value for r in pruned} == {"KILLED"}
    complete = [r for r in runs if r.tags["shipyard.tuning.state"] == "COMPLETE"]
    assert len(complete) == result.complete == 50 - len(pruned)
    assert {r.status.value for r in complete} == {"FINISHED"}
    assert all(set(r.params) == {"alpha", "eta0", "loss"} for r in runs)
    best = client.get_run(result.best_run_id or "")
    assert best.metrics["accuracy"].value == pytest.approx(result.best_value)
    assert best.params["loss"] == result.best_params["loss"]
    history = client.get_metric_history(best.id, "intermediate/accuracy")
    assert [m.step for m in history] == list(range(6))
    pruned_history = client.get_metric_history(pruned[0].id, "intermediate/accuracy")
    assert 1 <= len(pruned_history) < 6 and "accuracy" not in client.get_run(pruned[0].id).metrics
    search = client.get_run(result.run_id)
    assert search.status.value == "FINISHED" and search.tags["shipyard.kind"] == "search"
    assert search.metrics["accuracy"].value == pytest.approx(result.best_value)
    assert search.tags["shipyard.tuning.best_run_id"] == result.best_run_id
    assert search.params["space.alpha"] == "loguniform(1e-06, 1.0)"


def test_the_best_trial_is_the_one_optuna_alone_finds_with_the_same_seed(client: Client) -> None:
    result = tune(objectives.bowl_objective, BOWL, n_trials=25, sampler="tpe", seed=7, client=client)

    def alone(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5.0, 5.0)
        depth = trial.suggest_int("depth", 1, 6)
        kind = trial.suggest_categorical("kind", ["a", "b", "c"])
        return objectives.bowl(x, depth, kind)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=7))
    study.optimize(alone, n_trials=25)
    assert result.best_trial == study.best_trial.number
    assert result.best_params == study.best_params
    assert result.best_value == study.best_value


@pytest.mark.parametrize("sampler", ["random", "grid", "cmaes"])
def test_every_sampler_searches_the_same_space(client: Client, sampler: str) -> None:
    space = {"x": uniform(-2.0, 2.0, step=0.5), "depth": randint(2, 4), "kind": choice(["a", "b"])}
    result = tune(objectives.bowl_objective, space, n_trials=12, sampler=sampler, seed=1, client=client)
    assert result.complete == 12 and len(_trial_runs(client, result)) == 12
    if sampler == "grid":  # each point of the 9 x 3 x 2 grid at most once
        points = {tuple(sorted(r.params.items())) for r in _trial_runs(client, result)}
        assert len(points) == 12


def test_hyperband_prunes_through_the_same_reports(client: Client) -> None:
    result = tune(objectives.bowl_with_reports, BOWL, n_trials=20, pruner="hyperband",
                  pruner_options={"min_resource": 1, "max_resource": 4}, seed=3, client=client)
    assert result.n_trials == 20 and result.pruned > 0


def test_a_failing_trial_is_recorded_with_its_error_and_the_search_goes_on(client: Client) -> None:
    def sometimes(trial: shipyard.tuning.Trial) -> float:
        if trial["kind"] == "c":
            raise ValueError("kind c is not supported")
        return objectives.bowl_objective(trial)

    result = tune(sometimes, BOWL, n_trials=15, sampler="random", seed=2, client=client)
    failed = [r for r in _trial_runs(client, result) if r.status.value == "FAILED"]
    assert failed and result.failed == len(failed) and result.complete == 15 - len(failed)
    assert {r.tags["shipyard.tuning.error"] for r in failed} == {"ValueError: kind c is not supported"}
    traceback = client.tracking.download_artifacts(failed[0].id, "traceback.txt", dest=client.config.home / "tb")
    assert "kind c is not supported" in Path(traceback).read_text()


def test_an_objective_raising_every_time_ends_with_a_clear_error_after_every_trial(client: Client) -> None:
    with pytest.raises(SearchFailed, match=r"all 6 trials failed; the last with RuntimeError: no data") as caught:
        tune(objectives.always_fails, BOWL, n_trials=6, client=client, name="doomed")
    run = client.get_run(caught.value.context["run_id"])
    assert run.status.value == "FAILED" and run.tags["shipyard.tuning.failed"] == "6"
    children = client.search_runs(filter=f"tags.`shipyard.tuning.search` = '{run.id}'").items
    assert len(children) == 6 and {r.status.value for r in children} == {"FAILED"}


def test_the_study_lives_beside_the_metadata_without_touching_its_migrations(client: Client) -> None:
    tune(objectives.bowl_objective, BOWL, n_trials=3, client=client, name="beside")
    db = Path(client.config.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        tables = {t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert "studies" not in tables and "trials" not in tables
    assert revision == [(client.backend.db.current_revision(),)]  # type: ignore[attr-defined]
    with sqlite3.connect(db.with_name("shipyard.optuna.db")) as conn:
        assert conn.execute("SELECT study_name FROM studies").fetchall() == [("beside",)]


def test_a_postgresql_study_has_its_own_schema_and_resumes_from_another_client(pg_client: Client,
                                                                               tmp_path: Path) -> None:
    first = tune(objectives.bowl_objective, BOWL, n_trials=4, seed=0, client=pg_client, name="shared")
    other = Client(pg_client.config.with_(home=tmp_path / "other"))
    try:
        second = tune(objectives.bowl_objective, BOWL, n_trials=7, seed=0, client=other, name="shared")
    finally:
        other.close()
    assert second.run_id == first.run_id and second.n_trials == 7
    assert len(_trial_runs(pg_client, second)) == 7


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_search_logs_no_optuna_info_lines_and_puts_optuna_s_verbosity_back(client: Client) -> None:
    previous = optuna.logging.get_verbosity()
    handler = _Records()
    logging.getLogger("optuna").addHandler(handler)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        tune(objectives.bowl_objective, BOWL, n_trials=2, client=client, name="quiet")  # "A new study created"
        tune(objectives.bowl_objective, BOWL, n_trials=3, client=client, name="quiet")  # "Using an existing study"
        verbosity_after = optuna.logging.get_verbosity()
    finally:
        logging.getLogger("optuna").removeHandler(handler)
        optuna.logging.set_verbosity(previous)
    assert [r.getMessage() for r in handler.records if r.levelno <= logging.INFO] == []
    assert verbosity_after == optuna.logging.INFO
