"""The controller on a real SQLite store with a real pipeline training scikit-learn: triggers,
guards, retraining, the paired evaluation, gates, approval, rollout, races and resumption."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.automation import AutomationRun, Controller, Moved, SqlAutomationStore
from shipyard.errors import Conflict, InvalidInput
from shipyard.registry import TRAFFIC_TAG
from tests.automation.ct_world import Heard, Served, ct_policy, frame, make_ct_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Client]:
    with Client(Config(home=tmp_path / "home", db=f"sqlite:///{tmp_path / 'meta.db'}", flush_interval=0.2)) as client:
        make_ct_world(client, tmp_path)
        yield client


def store_of(client: Client) -> SqlAutomationStore:
    store = client.backend.automation
    assert isinstance(store, SqlAutomationStore)
    return store


def controller(client: Client, heard: Heard | None = None, holder: str = "ctl-a") -> Controller:
    """A controller with the real rollout driver, running pipelines inline."""
    return Controller(client, holder=holder, executor="inline", notifiers={"heard": heard or Heard()})


def drive(ctl: Controller, run_id: str, client: Client, until: tuple[str, ...] = ("awaiting_approval", "canary"),
          ticks: int = 12) -> AutomationRun:
    """Tick (waiting for any retrain) until the run ends or reaches a state of ``until``."""
    for _ in range(ticks):
        ctl.tick()
        ctl.wait(timeout=60)
        run = client.automation.get_run(run_id)
        if run.finished or run.state in until:
            return run
    return client.automation.get_run(run_id)


def test_a_requested_retrain_trains_wins_the_paired_test_canaries_and_is_promoted(world: Client,
                                                                                    tmp_path: Path) -> None:
    world.automation.apply_policy(ct_policy(tmp_path))
    requested = world.automation.request_run("churn-ct", "new features are in")
    heard = Heard()
    ctl = controller(world, heard)
    try:
        run = drive(ctl, requested.id, world)
        assert run.state == "canary", run.reason
        split = json.loads(world.get_registered_model("churn").tags[TRAFFIC_TAG])
        assert split["routes"] == {"production": 80, "challenger": 20}
        assert ctl.tick() == []  # no labelled answers yet: the canary waits
        served = Served(world)
        served.requests(1, 1000, route="production", accuracy=0.9, seed=1)
        served.requests(2, 1000, route="challenger", accuracy=0.97, seed=2)
        run = drive(ctl, requested.id, world, until=())
    finally:
        ctl.close()
    assert run.state == "promoted", run.reason
    assert world.get_model_version_by_alias("churn", "production").version == run.evidence["challenger_version"] == 2
    model = world.get_registered_model("churn")
    assert "challenger" not in model.aliases and TRAFFIC_TAG not in model.tags  # nothing half-promoted
    assert run.evidence["champion_version"] == 1 and run.evidence["canary"]["outcome"] == "pass"
    # every move is an audit event and a notification, one state at a time
    audit = [e for e in world.automation.policy_audit("churn-ct") if e.action == "transition"]
    assert [e.after["state"] for e in audit][::-1] == [  # type: ignore[index]
        "retraining", "evaluating", "gated", "canary", "promoted"]
    assert heard.moves == [("triggered", "retraining"), ("retraining", "evaluating"), ("evaluating", "gated"),
                           ("gated", "canary"), ("canary", "promoted")]
    # the evaluation is a table with intervals, decided by the bootstrap's lower bound
    evaluation = run.evidence["evaluation"]
    first = evaluation["metrics"][0]
    assert first["metric"] == "accuracy" and first["challenger"] > first["champion"]
    assert first["interval"][0] > 0 and evaluation["test"]["name"] == "paired_bootstrap"
    assert evaluation["test"]["gain_lower_bound"] > 0 and evaluation["rows"] == 400
    assert run.evidence["gates"]["passed"] is True
    # the pipeline was run with the policy's params plus the training window end
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert seen == [{"training_window_end": run.started_at, "labelled_data": None}]
    assert run.evidence["retrain"]["pipeline_run_id"] and run.evidence["retrain"]["attempt"] == 1


def test_a_challenger_that_does_not_beat_the_champion_is_rejected_and_nothing_moves(world: Client,
                                                                                      tmp_path: Path) -> None:
    policy = ct_policy(tmp_path)
    policy["retrain"]["params"].update(features=["x1"], c=0.5)  # the champion's recipe, barely changed
    world.automation.apply_policy(policy)
    requested = world.automation.request_run("churn-ct", "try again")
    ctl = controller(world)
    try:
        run = drive(ctl, requested.id, world)
    finally:
        ctl.close()
    assert run.state == "rejected" and "does not beat" in (run.reason or "")
    assert run.evidence["evaluation"]["passed"] is False
    model = world.get_registered_model("churn")
    assert model.aliases.get("production") == 1 and "challenger" not in model.aliases


def test_a_less_accurate_canary_rolls_back_to_the_champion(world: Client, tmp_path: Path) -> None:
    world.automation.apply_policy(ct_policy(tmp_path))
    requested = world.automation.request_run("churn-ct", "drift")
    heard = Heard()
    ctl = controller(world, heard)
    try:
        assert drive(ctl, requested.id, world).state == "canary"
        served = Served(world)
        served.requests(1, 300, route="production", accuracy=0.95, seed=3)
        served.requests(2, 300, route="challenger", accuracy=0.6, seed=4)
        run = drive(ctl, requested.id, world, until=())
    finally:
        ctl.close()
    assert run.state == "rolled_back" and "less accurate" in (run.reason or "")
    assert run.evidence["canary"]["outcome"] == "fail" and run.evidence["rollback"]["version"] == 1
    model = world.get_registered_model("churn")
    assert model.aliases == {"production": 1} and TRAFFIC_TAG not in model.tags
    assert heard.events[-1].severity == "critical" and heard.moves[-1] == ("canary", "rolled_back")


def test_approval_holds_the_challenger_before_traffic_and_an_approval_resumes_it(world: Client,
                                                                                  tmp_path: Path) -> None:
    world.automation.apply_policy(ct_policy(tmp_path, guards={"cooldown": "1s", "require_approval": True}))
    requested = world.automation.request_run("churn-ct", "monthly")
    ctl = controller(world)
    try:
        run = drive(ctl, requested.id, world)
        assert run.state == "awaiting_approval" and run.resume_state == "canary"
        model = world.get_registered_model("churn")  # no traffic before a person says so
        assert "challenger" not in model.aliases and TRAFFIC_TAG not in model.tags
        approved = world.automation.approve_run(run.id, "looks right")
        assert approved.state == "canary"
        assert ctl.tick() == []  # the canary starts after the approval, and waits for answers
        model = world.get_registered_model("churn")
        assert model.aliases["challenger"] == 2 and json.loads(model.tags[TRAFFIC_TAG])["routes"]["challenger"] == 20
        assert world.automation.get_run(run.id).state == "canary"
    finally:
        ctl.close()


def test_approving_a_run_that_awaits_nothing_is_a_conflict_naming_its_state(world: Client, tmp_path: Path) -> None:
    world.automation.apply_policy(ct_policy(tmp_path))
    run = world.automation.request_run("churn-ct", "now")
    with pytest.raises(Conflict) as info:
        world.automation.approve_run(run.id, "go")
    assert info.value.state == "triggered"  # type: ignore[attr-defined]
    assert "not awaiting approval" in str(info.value)
    with pytest.raises(Conflict):  # one active run per policy
        world.automation.request_run("churn-ct", "again")
    with pytest.raises(InvalidInput) as empty:
        world.automation.request_run("churn-ct", " ")
    assert empty.value.field == "reason"  # type: ignore[attr-defined]


def test_two_controllers_racing_on_one_policy_start_one_run_and_move_it_once(world: Client, tmp_path: Path) -> None:
    world.automation.apply_policy(ct_policy(tmp_path))
    world.register_dataset("churn-holdout", frame(400, 3))  # the dataset trigger fires
    a, b = controller(world, holder="ctl-a"), controller(world, holder="ctl-b")
    barrier = threading.Barrier(2)
    done: dict[str, list[Moved]] = {}

    def race(name: str, ctl: Controller) -> None:
        barrier.wait()
        done[name] = ctl.tick()

    try:
        threads = [threading.Thread(target=race, args=(n, c)) for n, c in (("ctl-a", a), ("ctl-b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        runs = world.automation.list_runs("churn-ct")
        assert len(runs) == 1 and runs[0].evidence["trigger"]["type"] == "dataset"
        assert sorted(len(v) for v in done.values()) == [0, 1]  # one acted; the other found the lease taken
        winner = next(name for name, moved in done.items() if moved)
        first, second = (a, b) if winner == "ctl-a" else (b, a)
        assert store_of(world).get_lease("churn-ct").holder == winner  # type: ignore[union-attr]
        assert second.tick() == []  # the lease is live: the other acts on nothing
        assert [(m.from_state, m.to_state) for m in first.tick()] == [("triggered", "retraining")]
        creates = [e for e in world.automation.policy_audit("churn-ct") if e.action == "create_run"]
        assert len(creates) == 1
    finally:
        a.close()
        b.close()
    assert store_of(world).get_lease("churn-ct") is None  # closing gives the lease up


def test_guards_keep_a_firing_trigger_from_retraining_again_within_the_cooldown(world: Client,
                                                                                 tmp_path: Path) -> None:
    world.automation.apply_policy(ct_policy(tmp_path, guards={"cooldown": "1h"}, evaluation={
        "metrics": ["accuracy"], "data": "churn-holdout@latest", "min_improvement": 0.9}))
    first = world.automation.request_run("churn-ct", "first")
    ctl = controller(world)
    try:
        assert drive(ctl, first.id, world).state == "rejected"  # it retrained: the cooldown runs from then
        world.register_dataset("churn-holdout", frame(400, 4))  # a trigger fires…
        assert ctl.tick() == []  # …but the cooldown holds
        plan = world.automation.plan("churn")
        assert plan.policies[0].firing[0]["type"] == "dataset" and not plan.policies[0].would_start
        assert "cooldown" in plan.policies[0].next
        # a person asking does not get round the guards either: the run is rejected, saying why
        manual = world.automation.request_run("churn-ct", "please")
        moved = ctl.tick()
        assert [(m.from_state, m.to_state) for m in moved] == [("triggered", "rejected")]
        assert "cooldown" in (world.automation.get_run(manual.id).reason or "")
    finally:
        ctl.close()


def test_the_controller_refuses_a_store_it_cannot_drive(tmp_path: Path) -> None:
    class Remote:
        class automation:  # noqa: N801 - mimics the client's facade
            store = object()

    with pytest.raises(InvalidInput) as info:
        Controller(Remote()).tick()
    assert info.value.field == "db"  # type: ignore[attr-defined]


def test_a_gate_that_fails_rejects_the_challenger_before_any_traffic(world: Client, tmp_path: Path) -> None:
    world.automation.apply_policy(ct_policy(tmp_path, gates={"max_latency_p99_ms": 0.000001}))
    requested = world.automation.request_run("churn-ct", "fast enough?")
    ctl = controller(world)
    try:
        run = drive(ctl, requested.id, world)
    finally:
        ctl.close()
    assert run.state == "rejected" and (run.reason or "").startswith("gate failed: max_latency_p99_ms")
    [latency] = [c for c in run.evidence["gates"]["checks"] if c["gate"] == "max_latency_p99_ms"]
    assert latency["passed"] is False and latency["p99_ms"] > 0
    assert "challenger" not in world.get_registered_model("churn").aliases


def test_a_pipeline_that_fails_is_tried_once_more_then_the_run_is_rejected(world: Client, tmp_path: Path) -> None:
    policy = ct_policy(tmp_path)
    policy["retrain"]["params"]["train_csv"] = str(tmp_path / "missing.csv")
    world.automation.apply_policy(policy)
    requested = world.automation.request_run("churn-ct", "broken data")
    ctl = controller(world)
    try:
        run = drive(ctl, requested.id, world)
    finally:
        ctl.close()
    assert run.state == "rejected" and (run.reason or "").startswith("retraining failed 2 times")
    assert run.evidence["retrain"]["attempt"] == 2 and "missing.csv" in run.evidence["retrain"]["error"]


def test_a_retrain_over_its_training_budget_is_rejected(world: Client, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "slow"
    slow.write_text("3")
    monkeypatch.setenv("CT_SLOW_FILE", str(slow))  # the data step takes 3 s; the budget is 1 s
    world.automation.apply_policy(ct_policy(tmp_path, guards={"cooldown": "1s", "training_budget": "1s"}))
    requested = world.automation.request_run("churn-ct", "slow")
    ctl = controller(world)
    try:
        ctl.tick()  # triggered -> retraining, the pipeline starts
        time.sleep(1.5)
        moved = ctl.tick()
        ctl.wait(30)
    finally:
        ctl.close()
    assert [(m.from_state, m.to_state) for m in moved] == [("retraining", "rejected")]
    run = world.automation.get_run(requested.id)
    assert "training budget exceeded" in (run.reason or "") and run.evidence["retrain"]["status"] == "over_budget"
