"""Where trials run: this process (``local``) or Ray tasks (``ray``, ``ray://host:port``).

Both take a trial the search has asked the study for (its parameters already
sampled and stored) and give back an :class:`~shipyard.tuning._trial.Outcome`; the
search alone tells the study how each trial ended. A Ray task opens the study's
storage itself — the metadata database, which every node must reach (PostgreSQL,
or a SQLite file on a disk they share) — so its reports and the pruner's decisions
go through the same study as the driver's.

Why Ray tasks over the shared study, not Ray Tune's ``OptunaSearch``: there the
study lives in the driver's memory behind Ray Tune's searcher interface, trials are
stopped by Ray Tune's schedulers rather than Optuna's pruners, results go through
``tune.report``, and resuming means restoring Ray Tune's experiment folder — a second
API and a second home for the state. Tasks over the study in the metadata database
keep one API (the same objective, ``trial.report``, samplers and pruners) and one
way to resume (call ``tune`` again with the study's name) for both executors; only
where the objective runs differs.

Ray is the ``ray`` extra, imported only when a Ray executor is made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shipyard.errors import InvalidInput, MissingExtra
from shipyard.tuning._algorithms import make_pruner
from shipyard.tuning._storage import close_storage, import_optuna, open_storage
from shipyard.tuning._trial import FAIL, Outcome, run_objective

__all__ = ["LocalTrials", "RayTrials", "TrialExecutor", "TrialJob", "make_executor"]


@dataclass(frozen=True)
class TrialJob:
    """A trial to run: the study's ``optuna_trial`` (from ``ask``), its sampled ``params``, its run's id."""

    optuna_trial: Any
    params: dict[str, Any]
    run_id: str | None = None


class TrialExecutor(Protocol):
    """Runs trials; ``capacity`` is how many may be in flight at once."""

    name: str
    capacity: int

    def submit(self, job: TrialJob) -> None: ...
    def wait(self) -> list[tuple[TrialJob, Outcome]]: ...
    def close(self) -> None: ...


class LocalTrials:
    """Runs each trial in this process, one at a time, as it is submitted."""

    name = "local"
    capacity = 1

    def __init__(self, objective: Callable[..., Any]) -> None:
        self._objective = objective
        self._done: list[tuple[TrialJob, Outcome]] = []

    def submit(self, job: TrialJob) -> None:
        self._done.append((job, run_objective(self._objective, job.optuna_trial, job.params, job.run_id)))

    def wait(self) -> list[tuple[TrialJob, Outcome]]:
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        self._done.clear()


def _run_remote(database_url: str, study_name: str, number: int, params: dict[str, Any], run_id: str | None,
                objective: Any, pruner: str | None, pruner_options: dict[str, Any] | None) -> Outcome:
    """The Ray task: the trial run against the shared study, on whichever node Ray picked."""
    import ray

    optuna = import_optuna()
    storage = open_storage(database_url)
    try:
        # The sampler is the driver's business: parameters are sampled before the task starts.
        study = optuna.load_study(study_name=study_name, storage=storage,
                                  sampler=optuna.samplers.RandomSampler(),
                                  pruner=make_pruner(pruner, pruner_options))
        study_id = storage.get_study_id_from_name(study_name)
        trial = optuna.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, number))
        node = ray.get_runtime_context().get_node_id()
        return run_objective(objective, trial, params, run_id, host=f"ray:{node}")
    finally:
        close_storage(storage)


class RayTrials:
    """Runs each trial as a Ray task (``num_cpus`` each), at most ``capacity`` at a time.

    ``address`` goes to ``ray.init`` unless this process is already connected (then
    that connection is used and left open). A task lost with its worker or node
    ends its trial as a FAIL naming the Ray error.
    """

    name = "ray"

    def __init__(self, objective: Callable[..., Any], *, database_url: str, study_name: str,
                 pruner: str | None, pruner_options: dict[str, Any] | None, address: str | None = None,
                 capacity: int | None = None, num_cpus: float = 1) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtra("ray", "ray") from None
        self._ray = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1) // max(num_cpus, 1e-9))
        self.capacity = max(1, capacity or cpus)
        self._args = (database_url, study_name)
        self._pruner = (pruner, dict(pruner_options) if pruner_options else None)
        self._objective = ray.put(objective)
        self._task = ray.remote(_run_remote).options(num_cpus=num_cpus, max_retries=0)
        self._refs: dict[Any, TrialJob] = {}

    def submit(self, job: TrialJob) -> None:
        ref = self._task.remote(*self._args, job.optuna_trial.number, job.params, job.run_id,
                                  self._objective, *self._pruner)
        self._refs[ref] = job

    def wait(self) -> list[tuple[TrialJob, Outcome]]:
        if not self._refs:
            return []
        ready, _ = self._ray.wait(list(self._refs), num_returns=1)
        done = []
        for ref in ready:
            job = self._refs.pop(ref)
            try:
                outcome = self._ray.get(ref)
            except Exception as exc:  # the task never returned: its worker or node is gone
                outcome = Outcome(FAIL, error={"type": type(exc).__name__, "message": str(exc)[:2000],
                                               "traceback": ""})
            done.append((job, outcome))
        return done

    def close(self) -> None:
        for ref in list(self._refs):
            self._ray.cancel(ref, force=True)
        self._refs.clear()
        if self._owned:
            self._ray.shutdown()


def make_executor(spec: str, objective: Callable[..., Any], *, database_url: str, study_name: str,
                  pruner: str | None, pruner_options: dict[str, Any] | None, in_memory: bool,
                  max_concurrent: int | None) -> TrialExecutor:
    """``local``, ``ray`` (``RAY_ADDRESS`` or a new local cluster), ``ray:host:port`` or ``ray://host:port``."""
    if spec == "local":
        return LocalTrials(objective)
    if spec == "ray" or spec.startswith(("ray:", "ray://")):
        if in_memory:
            raise InvalidInput("a Ray search needs a metadata database its nodes can reach (a SQLite file or "
                               "PostgreSQL), not an in-memory one", field="executor")
        address = None if spec == "ray" else spec if spec.startswith("ray://") else spec.removeprefix("ray:")
        return RayTrials(objective, database_url=database_url, study_name=study_name, pruner=pruner,
                         pruner_options=pruner_options, address=address, capacity=max_concurrent)
    raise InvalidInput(f"executor must be 'local', 'ray', 'ray:host:port' or 'ray://host:port', got {spec!r}",
                       field="executor")
