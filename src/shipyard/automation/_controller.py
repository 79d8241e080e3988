"""The continuous-training controller: it watches every policy and drives its runs.

:meth:`Controller.tick` makes one pass over the policies. For each it takes the policy's
lease in the database (of several controllers on one database, one acts on a policy at a
time); with no active run, it checks the triggers (:mod:`~shipyard.automation._firing`)
and the guards (:mod:`~shipyard.automation._guards`) and starts a run; with one, it moves
it at most one state (:mod:`~shipyard.automation._stages`)::

    triggered → retraining → evaluating → gated → [awaiting_approval] → shadow → canary → promoted
                                                                         └─────────┴──→ rolled_back
    (any stage before traffic) ──→ rejected

Every move is one :meth:`~shipyard.automation.AutomationControlStore.transition` (conditional
on the state it was read in, with its evidence and an audit event) and is then sent to the
alert notifiers. Actions come before the move that records them and are idempotent, so a
controller killed at any point is resumed by the next: a shadow or canary is checked again,
a promotion found done is recorded, a retrain whose pipeline died is tried once more or the
run rejected. One run per policy is active at a time, and a policy does not start while
another policy's run on the same model is active: never two versions half-promoted.

**The retraining pipeline contract.**

1. ``retrain.pipeline`` names a pipeline that has run here once: its experiment records its
   target ``file.py:name``, which the controller loads afresh for each retrain and runs with
   its executor (``local`` by default).
2. The controller creates the pipeline's run first, under an id derived from the automation
   run and the attempt (:func:`~shipyard.automation._retraining.pipeline_run_id`, kept in the
   evidence as ``retrain.pipeline_run_id``), tagged ``shipyard.automation.run`` and
   ``shipyard.automation.policy``, and the pipeline adopts it. A controller that restarts
   finds it: FINISHED goes on; FAILED, or RUNNING with its controller gone, is tried once more
   (attempt 2), then the run is rejected.
3. Parameters: ``retrain.params``, plus, when the pipeline function declares them,
   ``training_window_end`` (ms: when the run was triggered), ``training_window_start``
   (``end - retrain.training_window``, or None) and ``labelled_data`` (the exported labelled
   window as ``"NAME@VERSION"``, or None: not configured, or fewer than ``min_rows`` rows).
   The labelled window is exported in two parts by time: the older four fifths are
   ``labelled_data``; the newest fifth is kept for the evaluation, never trained on.
4. Exactly one step returns the new model and declares ``@step(register_model="<model>")``;
   the pipeline's recorder registers it and tags that step's run ``shipyard.registered_model
   = "<model>/<version>"`` (a step registering otherwise sets that tag through its
   ``StepContext``). The controller reads the tag of each step run of the pipeline run: the
   one version of the policy's model is the challenger; none, or several, rejects the run.
   Serving checks and logs a request through the model's signature, so the challenger must
   carry one: a step that returns a bare model under ``register_model`` saves none; such a
   step logs the model itself (``client.log_model(run_id, model, "model", input_example=...,
   registered_model_name=...)``) and sets the tag.
5. Evaluation loads the challenger and the champion (``@production``; none: the challenger
   is the first model and is promoted once it passes the gates) and calls ``predict`` (and
   ``predict_proba`` for ``auc``, ``log_loss``) on the holdout ``evaluation.data`` plus the
   newest labelled rows, with the signature's inputs as features; the label column is the
   monitor's (``retrain.labelled_data.monitor``), else ``label``.

>>> controller = Controller(client, holder="ctl-1")   # doctest: +SKIP
>>> controller.tick()                                  # doctest: +SKIP
[Moved(policy='churn-retrain', run_id='…', from_state=None, to_state='triggered', reason='alert churn-drift')]
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.automation._backend import AutomationControlStore
from shipyard.automation._entities import AutomationRun, PolicyVersion
from shipyard.automation._firing import TriggerSources, firing, settled_since
from shipyard.automation._guards import check_guards
from shipyard.automation._notify import notify
from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._retraining import Retrainer
from shipyard.automation._stages import Move, RolloutDriverLike, Stages
from shipyard.automation._states import AWAITING_APPROVAL
from shipyard.errors import Conflict, InvalidInput, ShipyardError

__all__ = ["ACTOR", "Controller", "Moved"]

ACTOR = "shipyard-automation"
logger = logging.getLogger("shipyard.automation")


@dataclass(frozen=True)
class Moved:
    """One thing a tick did: run ``run_id`` of ``policy`` moved from ``from_state`` (None: it
    was created) to ``to_state``, for ``reason``."""

    policy: str
    run_id: str
    from_state: str | None
    to_state: str
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "run_id": self.run_id, "from_state": self.from_state,
                "to_state": self.to_state, "reason": self.reason}


class Controller:
    """Drives the runs of every policy (see the module docstring). No I/O until :meth:`tick`.

    ``client`` is an embedded :class:`~shipyard.Client` (the controller needs the database);
    ``holder`` names this controller in the leases (default ``host:pid``); a lease lasts
    ``lease_ttl_s`` and is renewed every tick, so a controller that dies lets another take
    over after that long. ``driver`` moves traffic (by default a
    :class:`~shipyard.automation._rollout.RolloutDriver` over the client's stores); ``executor`` runs the retraining
    pipelines; ``notifiers`` (default: the client's alert notifiers) hear of every move.
    """

    def __init__(self, client: Any, *, holder: str | None = None, lease_ttl_s: float = 60.0,
                 driver: RolloutDriverLike | None = None, executor: str = "local",
                 notifiers: Mapping[str, Any] | None = None, stale_s: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.holder = holder
        self.lease_ttl_s = lease_ttl_s
        self.driver = driver
        self.executor = executor
        self.notifiers = notifiers
        self.stale_s = stale_s
        self.clock = clock
        self._stages: Stages | None = None
        self._held: set[str] = set()

    # -- set-up on first use -------------------------------------------------------------------

    @property
    def store(self) -> AutomationControlStore:
        store = self.client.automation.store
        if not isinstance(store, AutomationControlStore):
            raise InvalidInput("the automation controller needs the database: run it where the metadata "
                               "database is configured, not through a server URL", field="db")
        return store

    @property
    def stages(self) -> Stages:
        if self._stages is None:
            from shipyard.pipelines._liveness import process_owner

            self.holder = self.holder or process_owner()
            retrainer = Retrainer(self.client, executor=self.executor, clock=self.clock,
                                  stale_s=self.stale_s if self.stale_s is not None else max(60.0, 3 * self.lease_ttl_s))
            given = self.driver
            self._stages = Stages(self.client, retrainer, (lambda: given) if given is not None else
                                  (lambda: _default_driver(self.client, self.clock)), self.clock)
            if self.notifiers is None:
                self.notifiers = dict(self.client.alert_notifiers)
        return self._stages

    # -- the loop --------------------------------------------------------------------------------

    def tick(self) -> list[Moved]:
        """One pass over every policy; what it did. A policy whose work fails is logged and
        skipped: the others go on."""
        store = self.store  # refused before anything starts when it cannot drive runs
        stages = self.stages
        steps: list[Moved] = []
        for version in store.list_policies():
            try:
                steps += self._policy(version, stages)
            except ShipyardError as exc:
                logger.warning("automation policy %s: %s", version.name, exc)
        return steps

    def run(self, interval: float = 10.0, stop_event: threading.Event | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop_event`` is set; then :meth:`close`."""
        stop = stop_event or threading.Event()
        try:
            while not stop.is_set():
                try:
                    for step in self.tick():
                        logger.info("%s run %s: %s -> %s %s", step.policy, step.run_id, step.from_state,
                                    step.to_state, step.reason or "")
                except Exception:  # noqa: BLE001 - the database away for a moment must not end the loop
                    logger.exception("automation tick failed")
                stop.wait(interval)
        finally:
            self.close()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the retraining pipelines this controller started (``--once`` does)."""
        if self._stages is not None:
            self._stages.retrainer.wait(timeout)

    def close(self) -> None:
        """Give up the leases this controller holds and stop its heartbeat."""
        if self._stages is not None:
            self._stages.retrainer.close()
        for policy in sorted(self._held):
            try:
                self.store.release_lease(policy, self.holder or "")
            except ShipyardError as exc:
                logger.warning("releasing the lease on %s: %s", policy, exc)
        self._held.clear()

    # -- one policy ------------------------------------------------------------------------------

    def _policy(self, version: PolicyVersion, stages: Stages) -> list[Moved]:
        store = self.store
        assert self.holder is not None
        if store.acquire_lease(version.name, self.holder, self.lease_ttl_s) is None:
            self._held.discard(version.name)
            return []  # another controller drives it
        self._held.add(version.name)
        runs = store.list_runs(version.name)
        active = [r for r in runs if not r.finished]
        if not active:
            started = self._start(version, runs)
            return [] if started is None else [started]
        steps = []
        for run in active:
            policy = version.policy if run.policy_version == version.version else \
                store.get_policy(version.name, run.policy_version).policy  # a run keeps the version it began with
            step = self._advance(policy, run, runs, stages)
            if step is not None:
                steps.append(step)
        return steps

    def _start(self, version: PolicyVersion, runs: list[AutomationRun]) -> Moved | None:
        policy = version.policy
        if not policy.enabled:
            return None
        now = int(self.clock() * 1000)
        since = max([version.created_at, *(r.started_at for r in runs)])
        fired = firing(policy, self._sources(), since_ms=since, now_ms=now, settled_ms=settled_since(runs))
        if not fired or not check_guards(policy.guards, runs, now).allowed:
            return None
        if self._model_busy(policy):
            return None
        trigger = fired[0].to_json()
        reason = f"{trigger['type']} trigger: " + ", ".join(f"{k}={v}" for k, v in trigger.items() if k != "type")
        run = self.store.create_run(policy.name, {"trigger": trigger, "triggers": [f.to_json() for f in fired]},
                                    actor=ACTOR, reason=reason[:500])
        self._notify(policy, run, None, reason[:500])
        return Moved(policy.name, run.id, None, "triggered", reason[:500])

    def _model_busy(self, policy: AutomationPolicy) -> bool:
        """Whether another policy's run on the same model is active (one challenger at a time)."""
        store = self.store
        others = [v.name for v in store.list_policies() if v.policy.model == policy.model and v.name != policy.name]
        return any(not r.finished for name in others for r in store.list_runs(name))

    def _sources(self) -> TriggerSources:
        return TriggerSources(alerts=self.client.alert_store, monitoring=self.client.monitor_store,
                              datasets=self.client.dataset_store)

    def _advance(self, policy: AutomationPolicy, run: AutomationRun, runs: list[AutomationRun],
                 stages: Stages) -> Moved | None:
        state = run.state
        try:
            move = self._next(policy, run, runs, stages)
        except Exception as exc:  # noqa: BLE001 - user code (pipelines, models) fails in many ways
            if state in ("shadow", "canary"):
                logger.warning("%s run %s (%s): %s; checking again next tick", policy.name, run.id, state, exc)
                return None
            logger.warning("%s run %s (%s) failed: %s", policy.name, run.id, state, exc)
            move = Move("rejected", {"error": {"state": state, "type": type(exc).__name__, "message": str(exc)[:2000]}},
                        f"{state} failed: {exc}"[:1000])
        if move is None:
            return None
        try:
            moved = self.store.transition(run.id, move.to, expect=state, evidence=move.evidence, reason=move.reason,
                                          resume_state=move.resume_state, actor=ACTOR)
        except Conflict as exc:  # another controller moved it first
            logger.info("%s run %s: %s", policy.name, run.id, exc)
            return None
        self._notify(policy, moved, state, move.reason)
        if moved.state == "retraining":
            try:
                stages.retraining(policy, moved)  # start the pipeline now, not a tick later
            except Exception as exc:  # noqa: BLE001 - the next tick finds it not started and decides
                logger.warning("%s run %s: starting the retrain: %s", policy.name, run.id, exc)
        return Moved(policy.name, run.id, state, moved.state, move.reason)

    @staticmethod
    def _next(policy: AutomationPolicy, run: AutomationRun, runs: list[AutomationRun], stages: Stages) -> Move | None:
        state = run.state
        if state == "triggered":
            return stages.triggered(policy, run, runs)
        if state == "retraining":
            return stages.retraining(policy, run)
        if state == "evaluating":
            return stages.evaluating(policy, run)
        if state == "gated":
            return stages.gated(policy, run)
        if state in ("shadow", "canary"):
            return stages.rollout(policy, run)
        assert state == AWAITING_APPROVAL  # a person moves it
        return None

    def _notify(self, policy: AutomationPolicy, run: AutomationRun, from_state: str | None,
                reason: str | None) -> None:
        notify(self.notifiers or {}, policy, run, from_state, reason, at=int(self.clock() * 1000))


def _default_driver(client: Any, clock: Callable[[], float]) -> RolloutDriverLike:
    """The rollout driver over the client's registry, monitoring and tracking (inference log) stores."""
    from shipyard.automation._rollout import RolloutDriver

    driver: RolloutDriverLike = RolloutDriver(client.registry_store, client.monitor_store,
                                              tracking=client.tracking_store, clock=clock)
    return driver
