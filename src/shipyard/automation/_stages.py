"""The work of each state of an automation run: what the controller does there, and where it goes next.

:class:`Stages` holds one method per active state. Each looks at the run (and the stores)
and returns the next :class:`Move` — the state, the evidence gathered, a reason — or
None when the run must wait (a pipeline still training, a canary still undecided). It
acts before it answers (starts a pipeline, moves traffic through the rollout driver), and
every action is idempotent, so a controller killed between acting and recording the
move repeats the action harmlessly. The controller records the move.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pandas as pd

from shipyard.automation._entities import AutomationRun
from shipyard.automation._evaluation import compare, score_model
from shipyard.automation._gates import check_gates, load_version
from shipyard.automation._guards import check_guards, over_budget, retrain_started_at
from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._retraining import LABELLED, WINDOW_END, WINDOW_START, Retrainer, pipeline_run_id
from shipyard.automation._states import AWAITING_APPROVAL
from shipyard.errors import NotFound

__all__ = ["MAX_ATTEMPTS", "Move", "RolloutDriverLike", "Stages", "StageResultLike"]

MAX_ATTEMPTS = 2  # a retrain whose pipeline died or failed is tried once more
_ORIGIN = {"prediction", "request_id", "row", "served_at", "model_version"}  # columns an export adds


class StageResultLike(Protocol):
    outcome: str
    evidence: dict[str, Any]
    reason: str | None


class RolloutDriverLike(Protocol):
    """What the controller asks of the rollout driver (:mod:`shipyard.automation._rollout`)."""

    def start_shadow(self, model: str, challenger_version: int, fraction: float) -> dict[str, Any]: ...
    def check_shadow(self, policy: AutomationPolicy, run: AutomationRun) -> Any: ...
    def start_canary(self, model: str, challenger_version: int, percent: float) -> dict[str, Any]: ...
    def check_canary(self, policy: AutomationPolicy, run: AutomationRun) -> Any: ...
    def promote(self, model: str, challenger_version: int) -> dict[str, Any]: ...
    def rollback(self, model: str, champion_version: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Move:
    """Where a run goes next, with the evidence of the stage it leaves and why."""

    to: str
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    resume_state: str | None = None


class Stages:
    """One method per active state (see the module docstring)."""

    def __init__(self, client: Any, retrainer: Retrainer, driver: Callable[[], RolloutDriverLike],
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.retrainer = retrainer
        self._make_driver = driver  # made on first use: runs that never take traffic need none
        self._driver_: RolloutDriverLike | None = None
        self.clock = clock
        self._started: set[tuple[str, str]] = set()  # (run, stage) whose traffic this process set up

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- triggered -> retraining ----------------------------------------------------------------

    def triggered(self, policy: AutomationPolicy, run: AutomationRun, runs: list[AutomationRun]) -> Move | None:
        now = self.now_ms()
        guard = check_guards(policy.guards, runs, now, exclude=run.id)
        if not guard.allowed:
            return Move("rejected", {"guards": guard.to_json()}, "; ".join(guard.reasons))
        end = run.started_at
        retrain = policy.retrain
        start = None if retrain.training_window_s is None else end - retrain.training_window_s * 1000
        exported = self._export(policy, end)
        params = {**retrain.params, WINDOW_END: end, WINDOW_START: start, LABELLED: exported.get("training")}
        return Move("retraining", {"retrain": {
            "pipeline": retrain.pipeline, "attempt": 1, "pipeline_run_id": pipeline_run_id(run.id, 1),
            "started_at": now, "params": params, "labelled_export": exported}, "guards": guard.to_json()})

    def _export(self, policy: AutomationPolicy, end_ms: int) -> dict[str, Any]:
        """The labelled window, exported in two parts by time: the older four fifths to train on
        (when they hold ``min_rows``), the newest fifth to evaluate on (never trained on)."""
        labelled = policy.retrain.labelled_data
        if labelled is None:
            return {}
        since = end_ms - labelled.since_s * 1000
        split = end_ms - labelled.since_s * 200
        model = labelled.model or policy.model
        out: dict[str, Any] = {"model": model, "since_ms": since, "split_ms": split, "until_ms": end_ms}
        for part, (lo, hi) in (("training", (since, split)), ("evaluation", (split, end_ms))):
            try:
                export = self.client.automation.export_labelled(model, to=f"ds:{labelled.dataset}", since=lo,
                                                                until=hi, monitor=labelled.monitor)
            except NotFound:
                out[part], out[f"{part}_rows"] = None, 0
                continue
            out[f"{part}_rows"] = export.rows
            keep = part == "evaluation" or export.rows >= labelled.min_rows
            out[part] = export.ref if keep else None
        return out

    # -- retraining -> evaluating ------------------------------------------------------------

    def retraining(self, policy: AutomationPolicy, run: AutomationRun) -> Move | None:
        retrain = dict(run.evidence.get("retrain") or {})
        attempt = int(retrain.get("attempt", 1))
        # A retry is not a move of the run: its pipeline run (derived id) says it began.
        while attempt < MAX_ATTEMPTS and self.retrainer.inspect(pipeline_run_id(run.id, attempt + 1)).state \
                != "missing":
            attempt += 1
        pid = pipeline_run_id(run.id, attempt)
        status = self.retrainer.inspect(pid)
        if status.state == "missing":
            self.retrainer.start(policy.retrain.pipeline, pid, automation_run=run.id, policy=policy.name,
                                 params=retrain.get("params") or {})
            return None
        started = retrain_started_at(run) or run.updated_at
        if status.state == "running":
            if over_budget(policy.guards, started, self.now_ms()):
                return Move("rejected", {"retrain": {**retrain, "attempt": attempt, "pipeline_run_id": pid,
                                                     "status": "over_budget"}},
                            f"training budget exceeded: over {policy.guards.training_budget_s} s")
            return None
        record = {**retrain, "attempt": attempt, "pipeline_run_id": pid, "status": status.state,
                  "finished_at": self.now_ms()}
        if status.state in ("failed", "lost"):
            if attempt < MAX_ATTEMPTS:
                self.retrainer.start(policy.retrain.pipeline, pipeline_run_id(run.id, attempt + 1),
                                     automation_run=run.id, policy=policy.name, params=retrain.get("params") or {})
                return None
            return Move("rejected", {"retrain": {**record, "error": status.detail[:2000]}},
                        f"retraining failed {attempt} times; last: {status.detail[:500]}")
        versions = self.retrainer.registered(pid, policy.model)
        champion = self._champion(policy.model)
        if len(versions) != 1:
            what = "no version" if not versions else f"{len(versions)} versions ({versions})"
            return Move("rejected", {"retrain": record}, f"the pipeline registered {what} of {policy.model}")
        if versions[0] == champion:
            return Move("rejected", {"retrain": record}, f"the pipeline registered no new version: "
                                                         f"{policy.model}/{champion} is already the champion")
        return Move("evaluating", {"retrain": record, "challenger_version": versions[0],
                                   "champion_version": champion})

    def _champion(self, model: str) -> int | None:
        try:
            return int(self.client.registry_store.get_version_by_alias(model, "production").version)
        except NotFound:
            return None

    # -- evaluating -> gated --------------------------------------------------------------------

    def evaluating(self, policy: AutomationPolicy, run: AutomationRun) -> Move:
        ev = policy.evaluation
        frame, sources = self._evaluation_rows(policy, run)
        registry = self.client.registry_store
        challenger = load_version(registry, policy.model, int(run.evidence["challenger_version"]))
        label = self._label_column(policy)
        if label not in frame.columns:
            return Move("rejected", {"evaluation": {"data": sources}},
                        f"the evaluation rows have no label column {label!r}")
        features = _features(challenger.model, frame, label)
        champion_version = run.evidence.get("champion_version")
        champion = None if champion_version is None else load_version(registry, policy.model, int(champion_version))
        seed = int(hashlib.sha256(run.id.encode()).hexdigest()[:8], 16)
        old = None if champion is None else score_model(champion.model, frame,
                                                        _features(champion.model, frame, label), ev.metrics)
        result = compare(ev, frame[label].to_numpy(), old, score_model(challenger.model, frame, features, ev.metrics),
                         seed=seed)
        evidence = {"evaluation": {**result.to_json(), "data": sources, "label_column": label,
                                   "features": list(features)}}
        return Move("gated" if result.passed else "rejected", evidence, result.reason)

    def _label_column(self, policy: AutomationPolicy) -> str:
        labelled = policy.retrain.labelled_data
        if labelled is not None and labelled.monitor is not None:
            try:
                return self.client.monitor_store.get_monitor(labelled.monitor).label_column or "label"
            except NotFound:
                pass  # the monitor was deleted since the policy was applied: the default column
        return "label"

    def _evaluation_rows(self, policy: AutomationPolicy, run: AutomationRun) -> tuple[pd.DataFrame, list[Any]]:
        parts, sources = [], []
        refs = [("holdout", policy.evaluation.data),
                ("labelled_window", ((run.evidence.get("retrain") or {}).get("labelled_export") or {})
                 .get("evaluation"))]
        for source, ref in refs:
            if ref:
                frame = self.client.get_dataset(ref).to_pandas()
                parts.append(frame)
                sources.append({"source": source, "dataset": ref, "rows": len(frame)})
        frame = pd.concat(parts, ignore_index=True, join="inner") if parts else pd.DataFrame()
        return frame, sources

    # -- gated -> shadow | canary | promoted | awaiting_approval ---------------------------------

    def gated(self, policy: AutomationPolicy, run: AutomationRun) -> Move:
        registry = self.client.registry_store
        challenger = load_version(registry, policy.model, int(run.evidence["challenger_version"]))
        frame, _ = self._evaluation_rows(policy, run)
        features = (run.evidence.get("evaluation") or {}).get("features") or _features(challenger.model, frame, "")
        data = frame[[c for c in features if c in frame.columns]] if len(frame) else None
        result = check_gates(policy.gates, registry, challenger, run.evidence.get("champion_version"), data)
        evidence = {"gates": result.to_json()}
        if not result.passed:
            return Move("rejected", evidence, "gate failed: " + "; ".join(
                f"{c['gate']} ({c['detail']})" for c in result.failed))
        first = self.first_stage(policy, run)
        if policy.guards.require_approval:
            return Move(AWAITING_APPROVAL, evidence, f"gates passed; approval needed before {first}",
                        resume_state=first)
        return self.enter(policy, run, first, evidence)

    @staticmethod
    def first_stage(policy: AutomationPolicy, run: AutomationRun) -> str:
        if run.evidence.get("champion_version") is None:
            return "promoted"  # nothing to compare traffic with: the first model goes straight in
        if policy.rollout.shadow.requests > 0:
            return "shadow"
        return "canary" if policy.rollout.canary is not None else "promoted"

    def enter(self, policy: AutomationPolicy, run: AutomationRun, stage: str,
              evidence: dict[str, Any] | None = None) -> Move:
        """Set traffic up for ``stage`` (through the driver) and the move into it."""
        challenger = int(run.evidence["challenger_version"])
        at = self.clock()
        evidence = dict(evidence or {})
        if stage == "promoted":
            evidence["promotion"] = self._promote(policy, challenger)
            return Move("promoted", evidence, f"{policy.model}/{challenger} promoted to @production")
        driver = self._driver()
        if stage == "shadow":
            evidence.update({"shadow_start": driver.start_shadow(policy.model, challenger, 1.0),
                             "shadow_started_at": at})
        else:
            evidence.update({"canary_start": driver.start_canary(policy.model, challenger, _percent(policy)),
                             "canary_started_at": at})
        self._started.add((run.id, stage))
        return Move(stage, evidence)

    def _promote(self, policy: AutomationPolicy, challenger: int) -> dict[str, Any]:
        return dict(self._driver().promote(policy.model, challenger))

    def _driver(self) -> RolloutDriverLike:
        if self._driver_ is None:
            self._driver_ = self._make_driver()
        return self._driver_

    # -- shadow, canary -> next | rolled_back --------------------------------------------------

    def rollout(self, policy: AutomationPolicy, run: AutomationRun) -> Move | None:
        stage = run.state
        challenger = int(run.evidence["challenger_version"])
        driver = self._driver()
        if self._champion(policy.model) == challenger:  # promoted before a crash kept the move from being recorded
            return Move("promoted", {"promotion": {"alias": "production", "version": challenger, "found": True}},
                        f"{policy.model}/{challenger} is at @production")
        key = f"{stage}_started_at"
        if (run.id, stage) not in self._started:  # after an approval or a restart: (re)apply, idempotently
            if stage == "shadow":
                driver.start_shadow(policy.model, challenger, 1.0)
            else:
                driver.start_canary(policy.model, challenger, _percent(policy))
            self._started.add((run.id, stage))
        if key not in run.evidence:  # entered by an approval: the stage began with that move
            run = replace(run, evidence={**run.evidence, key: run.updated_at / 1000})
        check = driver.check_shadow if stage == "shadow" else driver.check_canary
        result = check(policy, run)
        if result.outcome == "wait":
            return None
        evidence = {stage: {"outcome": result.outcome, **dict(result.evidence)}}
        if result.outcome == "pass":
            nxt = "canary" if stage == "shadow" and policy.rollout.canary is not None else "promoted"
            return self.enter(policy, run, nxt, evidence) if nxt == "canary" else \
                Move("promoted", {**evidence, "promotion": self._promote(policy, challenger)},
                     result.reason or f"{stage} passed")
        champion = run.evidence.get("champion_version")
        evidence["rollback"] = dict(driver.rollback(policy.model, int(champion))) if champion is not None else {}
        return Move("rolled_back", evidence, result.reason or f"{stage} failed")


def _percent(policy: AutomationPolicy) -> float:
    canary = policy.rollout.canary
    assert canary is not None  # a canary stage exists only when the policy has one
    return canary.percent


def _features(model: Any, frame: pd.DataFrame, label: str) -> list[str]:
    """The columns ``model`` takes: its signature's inputs, else the names it was fitted on
    (scikit-learn's ``feature_names_in_``), else every column but the label and an export's own."""
    signature = getattr(model, "signature", None)
    if signature is not None:
        return list(signature.names)
    fitted = getattr(_native(model), "feature_names_in_", None)
    if fitted is not None:
        return [str(c) for c in fitted]
    return [c for c in frame.columns if c != label and c not in _ORIGIN and not str(c).startswith("prediction_")]


def _native(model: Any) -> Any:
    try:
        return model.unwrap()
    except Exception:  # noqa: BLE001 - a flavor without a native object has no fitted names
        return None
