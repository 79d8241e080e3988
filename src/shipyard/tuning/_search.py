"""``tune``: a hyperparameter search whose study lives in the metadata database and whose
trials are child runs of one search run.

A search is an Optuna study named ``name`` (see :mod:`shipyard.tuning._storage`).
Calling :func:`tune` again with the same name resumes it: ``n_trials`` is the
study's total, so only the missing trials run; trials left RUNNING by a process
that died are ended FAILED first, and trials whose runs were not written yet are
recorded from the study. The search run's id is kept in the study (user attribute
``shipyard.run_id``); the run itself carries the best value as metric ``<metric>``
and the best trial in its tags.

The driver asks the study for each trial (parameters sampled from the space), hands
it to the executor, and tells the study how it ended; only the driver samples and
records, wherever the trial ran.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from shipyard.errors import Conflict, InvalidInput
from shipyard.tracking import validate_key
from shipyard.tuning._algorithms import grid_size, make_pruner, make_sampler
from shipyard.tuning._executors import TrialJob, make_executor
from shipyard.tuning._recording import (
    ERROR_ATTR,
    TrialData,
    TrialRecorder,
    record_from_frozen,
    trial_record,
    trial_run_id,
)
from shipyard.tuning._result import SearchFailed, SearchResult
from shipyard.tuning._space import Param, check_space
from shipyard.tuning._storage import close_storage, import_optuna, open_storage, quiet_optuna
from shipyard.tuning._trial import COMPLETE, FAIL, PRUNED, Outcome, Trial

__all__ = ["tune"]

_RUN_ATTR, _METRIC_ATTR, _DRIVER_PREFIX = "shipyard.run_id", "shipyard.metric", "shipyard.driver."
_LOST = {"type": "SearchInterrupted", "message": "the search process ended before this trial finished",
         "traceback": ""}


def _check_args(objective: Any, n_trials: Any, direction: Any, metric: Any, name: Any) -> None:
    if not callable(objective):
        raise InvalidInput(f"objective must be a function of a trial, got {objective!r}", field="objective")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise InvalidInput(f"n_trials must be a positive integer, got {n_trials!r}", field="n_trials")
    if direction not in ("minimize", "maximize"):
        raise InvalidInput(f"direction must be 'minimize' or 'maximize', got {direction!r}", field="direction")
    validate_key(metric, "metric")
    if name is not None:
        validate_key(name, "name")


def _host() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


def _alive(driver: str) -> bool:
    """Whether the process ``host.pid`` still runs; a driver on another host is taken to."""
    host, _, pid = driver.rpartition(".")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_orphans(study: Any, storage: Any) -> None:
    """End FAILED the RUNNING trials of drivers that are gone (when no driver is left alive)."""
    optuna = import_optuna()
    drivers = [k.removeprefix(_DRIVER_PREFIX) for k, v in study.user_attrs.items()
               if k.startswith(_DRIVER_PREFIX) and v == "running"]
    alive = [d for d in drivers if d != _host() and _alive(d)]
    for driver in set(drivers) - set(alive):
        study.set_user_attr(_DRIVER_PREFIX + driver, "gone")
    if alive:
        return
    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, ERROR_ATTR, _LOST)
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


class _Search:
    """One call of :func:`tune`: the study, the search run, the recorder, and the counts."""

    def __init__(self, client: Any, study: Any, storage: Any, metric: str, run_id: str, experiment_id: str,
                 distributions: dict[str, Any], recorder: TrialRecorder) -> None:
        self.client, self.study, self.storage, self.metric = client, study, storage, metric
        self.run_id, self.experiment_id = run_id, experiment_id
        self.distributions = distributions
        self.recorder = recorder
        self.in_flight: dict[int, TrialJob] = {}
        self.last_error: dict[str, str] | None = None

    def record(self, data: TrialData) -> None:
        self.recorder.add(trial_record(self.experiment_id, self.run_id, self.metric, data))

    def reconcile(self) -> None:
        """Record the finished trials that have no run yet (written before a crash could)."""
        recorded: set[str] = set()
        token = None
        while True:
            page = self.client.tracking.search_runs(
                experiment_ids=[self.experiment_id], filter=f"tags.`shipyard.tuning.search` = '{self.run_id}'",
                max_results=1000, page_token=token)
            recorded.update(r.id for r in page.items)
            token = page.next_page_token
            if not token:
                break
        now = time.time_ns() // 1_000_000
        for frozen in self.study.get_trials(deepcopy=False):
            data = record_from_frozen(frozen, now)
            if data is not None and trial_run_id(self.run_id, frozen.number) not in recorded:
                self.record(data)

    def ask(self) -> TrialJob:
        trial = self.study.ask(self.distributions)
        job = TrialJob(trial, dict(trial.params), trial_run_id(self.run_id, trial.number))
        self.in_flight[trial.number] = job
        return job

    def finish(self, job: TrialJob, outcome: Outcome) -> None:
        optuna = import_optuna()
        number = job.optuna_trial.number
        if outcome.state == COMPLETE:
            self.study.tell(job.optuna_trial, outcome.value)
        elif outcome.state == PRUNED:
            self.study.tell(job.optuna_trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.last_error = outcome.error
            job.optuna_trial.set_user_attr(ERROR_ATTR, outcome.error)
            self.study.tell(job.optuna_trial, state=optuna.trial.TrialState.FAIL)
        self.in_flight.pop(number, None)
        self.record(TrialData.from_outcome(number, job.params, outcome))

    def abandon(self, exc: BaseException) -> None:
        """Fail the trials still in flight when the search itself stops (Ctrl-C, a lost cluster)."""
        error = {"type": type(exc).__name__, "message": str(exc)[:2000] or "the search stopped", "traceback": ""}
        now = time.time_ns() // 1_000_000
        for job in list(self.in_flight.values()):
            self.finish(job, Outcome(FAIL, error=error, start_ms=now, end_ms=now))


def _search_run(client: Any, study: Any, name: str, metric: str, experiment: str | None,
                parent: str | None, description: Mapping[str, str]) -> tuple[str, str]:
    """The search run of ``study``: created (and its id stored in the study), or resumed."""
    run_id = study.user_attrs.get(_RUN_ATTR)
    if run_id is not None:
        stored_metric = study.user_attrs.get(_METRIC_ATTR, metric)
        if stored_metric != metric:
            raise Conflict(f"search {name!r} scores trials as {stored_metric!r}, not {metric!r}", field="metric")
        run = client.tracking.resume_run(run_id, system_metrics=False)
        return run.id, run.experiment_id
    run = client.tracking.create_run(experiment, name=name, parent_run_id=parent, system_metrics=False,
                                     tags={"shipyard.kind": "search", "shipyard.tuning.study": name})
    client.tracking.log_params(run.id, dict(description))
    study.set_user_attr(_RUN_ATTR, run.id)
    study.set_user_attr(_METRIC_ATTR, metric)
    return run.id, run.experiment_id


def _summary(search: _Search, direction: str) -> SearchResult:
    counts = {s: 0 for s in (COMPLETE, PRUNED, FAIL)}
    for t in search.study.get_trials(deepcopy=False):
        if t.state.name in counts:
            counts[t.state.name] += 1
    best = search.study.best_trial if counts[COMPLETE] else None
    tags = {"shipyard.tuning.complete": str(counts[COMPLETE]), "shipyard.tuning.pruned": str(counts[PRUNED]),
            "shipyard.tuning.failed": str(counts[FAIL])}
    if best is not None:
        search.client.tracking.log_metric(search.run_id, search.metric, float(best.value), step=best.number)
        tags |= {"shipyard.tuning.best_trial": str(best.number),
                 "shipyard.tuning.best_run_id": trial_run_id(search.run_id, best.number)}
        tags |= {f"best.{k}": str(v) for k, v in best.params.items()}
    search.client.tracking.set_tags(search.run_id, tags)
    return SearchResult(search.study.study_name, search.run_id, search.experiment_id, search.metric, direction,
                        None if best is None else float(best.value), dict(best.params) if best else {},
                        None if best is None else best.number,
                        None if best is None else trial_run_id(search.run_id, best.number),
                        counts[COMPLETE], counts[PRUNED], counts[FAIL])


def _describe(space: Mapping[str, Param], **settings: Any) -> dict[str, str]:
    return {**{f"space.{k}": repr(p) for k, p in space.items()},
            **{f"tuning.{k}": str(v) for k, v in settings.items() if v is not None}}


def tune(objective: Callable[[Trial], float], space: Mapping[str, Param], *, n_trials: int = 20,
         metric: str = "objective", direction: str = "minimize", sampler: str = "tpe",
         pruner: str | None = "median", seed: int | None = None, name: str | None = None,
         experiment: str | None = None, executor: str = "local", max_concurrent: int | None = None,
         sampler_options: Mapping[str, Any] | None = None, pruner_options: Mapping[str, Any] | None = None,
         client: Any = None) -> SearchResult:
    """Search ``space`` for the parameters that minimise (or maximise) ``objective``.

    ``objective(trial)`` returns a number; it reads its parameters as ``trial["lr"]``
    and may call ``trial.report(value, step)``, which stops the trial when ``pruner``
    (``median``, ``hyperband``, ``none``) says so. ``sampler`` is ``tpe``, ``random``,
    ``grid`` or ``cmaes``, seeded by ``seed``. Each trial is a child run of the search
    run (in ``experiment``, or in the active run's experiment under it); a trial that
    raises is recorded FAILED and the search goes on; if no trial completes,
    :class:`SearchFailed` is raised once all have run. ``executor`` is ``local`` (this
    process, one trial at a time) or ``ray`` / ``ray:host:port`` / ``ray://host:port``
    (``max_concurrent`` Ray tasks; default: the cluster's CPUs). ``name`` names the
    study: the same name resumes it (``n_trials`` is its total). Bad input raises
    :class:`~shipyard.errors.InvalidInput` naming the field, before anything is stored;
    an objective with a ``check_space(space)`` method (a pipeline's) refuses there a
    space it cannot take.
    Optuna's INFO lines are silenced while the search runs (its verbosity is put back after).

    >>> result = tune(lambda t: (t["x"] - 2) ** 2, {"x": uniform(-5, 5)}, n_trials=30)  # doctest: +SKIP
    >>> round(result.best_params["x"])  # doctest: +SKIP
    2
    """
    _check_args(objective, n_trials, direction, metric, name)
    checked = check_space(space)
    check = getattr(objective, "check_space", None)
    if callable(check):  # an objective that knows its parameters (a pipeline's) refuses others now
        check(checked)
    if executor != "local" and not (executor == "ray" or str(executor).startswith("ray:")):
        raise InvalidInput(f"executor must be 'local', 'ray', 'ray:host:port' or 'ray://host:port', "
                           f"got {executor!r}", field="executor")
    optuna_sampler = make_sampler(sampler, checked, seed, sampler_options)
    optuna_pruner = make_pruner(pruner, pruner_options)
    if sampler == "grid":
        n_trials = min(n_trials, grid_size(checked))
    parent = None
    if client is None:
        from shipyard.fluent import active_run, get_client

        client = get_client()
        active = active_run()
        parent = active.id if active is not None else None
    if getattr(client.config, "url", None):
        raise InvalidInput("tune needs the metadata database itself: a client of a shipyard server cannot hold "
                           "the study; point SHIPYARD_DB at the server's database instead", field="client")
    with quiet_optuna():
        return _run(objective, checked, n_trials, metric, direction, optuna_sampler, optuna_pruner, name,
                    experiment, executor, max_concurrent, client, parent,
                    {"sampler": sampler, "pruner": pruner, "pruner_options": pruner_options, "seed": seed})


def _run(objective: Any, space: dict[str, Param], n_trials: int, metric: str, direction: str, sampler: Any,
         pruner: Any, name: str | None, experiment: str | None, executor_spec: str, max_concurrent: int | None,
         client: Any, parent: str | None, settings: dict[str, Any]) -> SearchResult:
    optuna = import_optuna()
    name = name or f"search-{uuid.uuid4().hex[:12]}"
    database_url = client.config.database_url
    client.tracking.store  # noqa: B018  (opens the store: Shipyard's schema exists before Optuna's)
    storage = open_storage(database_url)
    try:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction=direction, load_if_exists=True)
        if study.direction.name.lower() != direction:
            raise Conflict(f"search {name!r} is a {study.direction.name.lower()} study, not {direction}",
                           field="direction")
        run_id, experiment_id = _search_run(
            client, study, name, metric, experiment, parent,
            _describe(space, n_trials=n_trials, direction=direction, metric=metric, executor=executor_spec,
                      sampler=settings["sampler"], pruner=settings["pruner"], seed=settings["seed"]))
        study.set_user_attr(_DRIVER_PREFIX + _host(), "running")
        _fail_orphans(study, storage)
        recorder = TrialRecorder(client.tracking.store)
        search = _Search(client, study, storage, metric, run_id, experiment_id,
                         {k: p.to_distribution() for k, p in space.items()}, recorder)
        status = "FINISHED"
        try:
            search.reconcile()
            _drive(search, objective, n_trials, executor_spec, max_concurrent, database_url, name,
                   settings, in_memory=not hasattr(storage, "engine"))
        except BaseException as exc:  # Ctrl-C ends the search run KILLED, anything else FAILED
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            raise
        finally:
            study.set_user_attr(_DRIVER_PREFIX + _host(), "ended")
            recorder.close()
            result = _summary(search, direction)
            all_failed = status == "FINISHED" and result.complete == 0 and result.failed > 0
            client.tracking.end_run(run_id, "FAILED" if all_failed else status)
    finally:
        close_storage(storage)
    if all_failed:
        error = search.last_error or {}
        raise SearchFailed(f"search {name!r}: all {result.failed} trials failed; the last with "
                           f"{error.get('type', 'an error')}: {error.get('message', '')} (each is a FAILED run "
                           f"under run {run_id})", run_id=run_id, study=name, failed=result.failed,
                           error_type=error.get("type"), error=error.get("message"))
    return result


def _drive(search: _Search, objective: Any, n_trials: int, spec: str, max_concurrent: int | None,
           database_url: str, name: str, settings: dict[str, Any], in_memory: bool) -> None:
    """Ask, run and tell until the study holds ``n_trials`` trials."""
    remaining = n_trials - len(search.study.get_trials(deepcopy=False))
    if remaining <= 0:
        return
    executor = make_executor(spec, objective, database_url=database_url, study_name=name,
                             pruner=settings["pruner"], pruner_options=settings["pruner_options"],
                             in_memory=in_memory, max_concurrent=max_concurrent)
    try:
        while remaining > 0 or search.in_flight:
            while remaining > 0 and len(search.in_flight) < executor.capacity:
                executor.submit(search.ask())
                remaining -= 1
            for job, outcome in executor.wait():
                search.finish(job, outcome)
    except BaseException as exc:
        search.abandon(exc)
        raise
    finally:
        executor.close()
