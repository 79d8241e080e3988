"""The automation store on SQLite and PostgreSQL: versioned policies with their audit trail, reference
checks, runs moved only along legal transitions, approvals, and the controllers' lease."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from shipyard import Client
from shipyard.automation import AutomationPolicy, SqlAutomationStore
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.registry import acting_as
from shipyard.store import schema
from tests.automation.conftest import POLICY, policy


def store_of(client: Client) -> SqlAutomationStore:
    store = client.backend.automation
    assert isinstance(store, SqlAutomationStore)
    return store


def stored_rows(client: Client) -> int:
    with client.backend.db.read() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.automation_policies)).scalar())


def gated_run(store: SqlAutomationStore) -> str:
    run = store.create_run("churn-retrain", {"trigger": {"type": "manual"}})
    for state in ("retraining", "evaluating", "gated"):
        store.transition(run.id, state)
    return run.id


# -- policies -----------------------------------------------------------------------------------


def test_applying_stores_version_one_and_the_same_policy_again_stores_nothing(world: Client) -> None:
    store = store_of(world)
    first = store.apply(AutomationPolicy.from_json(POLICY), actor="ana")
    assert first.changed and first.policy.version == 1 and first.policy.actor == "ana"
    again = store.apply(AutomationPolicy.from_json(POLICY), actor="bob")
    assert not again.changed and again.policy.version == 1 and again.policy.actor == "ana"
    assert stored_rows(world) == 1
    assert [e.action for e in store.audit("churn-retrain")] == ["apply_policy"]


def test_a_changed_policy_is_the_next_version_and_older_ones_stay_readable(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY), actor="ana")
    changed = AutomationPolicy.from_json(policy(guards={"cooldown": "12h"}))
    second = store.apply(changed, actor="bob")
    assert second.changed and second.policy.version == 2
    assert store.get_policy("churn-retrain").policy.guards.cooldown_s == 12 * 3600
    assert store.get_policy("churn-retrain", 1).policy.guards.cooldown_s == 6 * 3600
    assert [v.version for v in store.policy_versions("churn-retrain")] == [2, 1]
    assert [(p.name, p.version) for p in store.list_policies()] == [("churn-retrain", 2)]
    entries = store.audit("churn-retrain")
    assert [(e.action, e.actor) for e in entries] == [("apply_policy", "bob"), ("apply_policy", "ana")]
    assert entries[0].before == {"version": 1} and entries[0].after["version"] == 2  # type: ignore[index]
    assert entries[0].after["policy"]["guards"]["cooldown"] == "12h"  # type: ignore[index]
    with pytest.raises(NotFound):
        store.get_policy("churn-retrain", 3)
    with pytest.raises(NotFound):
        store.policy_versions("nope")


def test_the_audit_log_names_the_authenticated_user_not_the_actor_given(world: Client) -> None:
    store = store_of(world)
    with acting_as("carol"):
        applied = store.apply(AutomationPolicy.from_json(POLICY), actor="mallory")
    assert applied.policy.actor == "carol"
    assert [e.actor for e in store.audit("churn-retrain")] == ["carol"]


def test_the_audit_of_one_policy_leaves_out_other_policies(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    store.apply(AutomationPolicy.from_json(policy(name="churn-retrain-2")))
    store.create_run("churn-retrain-2")
    assert [e.entity_id for e in store.audit("churn-retrain")] == ["churn-retrain"]
    assert [e.action for e in store.audit("churn-retrain-2")] == ["create_run", "apply_policy"]


def test_the_reason_for_a_manual_trigger_is_in_the_audit_log(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    asked = world.automation.request_run("churn-retrain", "new customer segment")  # shipyard automation trigger
    [created] = [e for e in world.automation.policy_audit("churn-retrain") if e.action == "create_run"]
    assert created.entity_id == f"churn-retrain/{asked.id}" and created.reason == "new customer segment"
    assert asked.evidence["trigger"]["reason"] == "new customer segment"
    store.transition(asked.id, "rejected", reason="not now")
    # a reason given to create_run wins; with neither, the audit event has none
    given = store.create_run("churn-retrain", {"trigger": {"type": "manual", "reason": "x"}}, reason="dataset trigger")
    store.transition(given.id, "rejected")
    bare = store.create_run("churn-retrain", {"trigger": {"type": "schedule"}})
    reasons = {e.entity_id: e.reason for e in store.audit("churn-retrain") if e.action == "create_run"}
    assert reasons[f"churn-retrain/{given.id}"] == "dataset trigger"
    assert reasons[f"churn-retrain/{bare.id}"] is None


@pytest.mark.parametrize(("change", "field", "resource"), [
    ({"model": "fraud"}, "model", "model"),
    ({"retrain": {"pipeline": "train_fraud"}}, "retrain.pipeline", "pipeline"),
    ({"triggers": [{"type": "manual"}, {"type": "alert", "rule": "fraud-drift"}]}, "triggers[1].rule", "alert_rule"),
    ({"triggers": [{"type": "dataset", "dataset": "fraud-raw"}]}, "triggers[0].dataset", "dataset"),
    ({"triggers": [{"type": "monitor", "monitor": "fraud-monitor", "series": "x", "above": 1}]},
     "triggers[0].monitor", "monitor"),
    ({"evaluation": {"metrics": ["auc"], "data": "churn-holdout@9"}}, "evaluation.data", "dataset"),
    ({"retrain": {"pipeline": "train_churn", "labelled_data": {"dataset": "d", "monitor": "gone"}}},
     "retrain.labelled_data.monitor", "monitor"),
])
def test_a_policy_naming_something_missing_is_refused_naming_the_field_and_nothing_is_stored(
        world: Client, change: dict[str, Any], field: str, resource: str) -> None:
    store = store_of(world)
    with pytest.raises(NotFound) as info:
        store.apply(AutomationPolicy.from_json(policy(**change)))
    assert (info.value.field, info.value.resource) == (field, resource)  # type: ignore[attr-defined]
    assert field in str(info.value)
    assert stored_rows(world) == 0 and store.audit(POLICY["name"]) == []


# -- runs -----------------------------------------------------------------------------------


def test_a_run_moves_along_legal_transitions_gathering_evidence_until_it_ends(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    run = store.create_run("churn-retrain", {"trigger": {"type": "alert", "rule": "churn-drift"}})
    assert (run.state, run.policy_version, run.ended_at) == ("triggered", 1, None)
    store.transition(run.id, "retraining", evidence={"pipeline_run": "abc"})
    store.transition(run.id, "evaluating", expect="retraining")
    store.transition(run.id, "gated", evidence={"test": {"p_value": 0.01}})
    store.transition(run.id, "canary")
    done = store.transition(run.id, "promoted", reason="canary won")
    assert done.state == "promoted" and done.ended_at is not None and done.finished
    assert done.evidence == {"trigger": {"type": "alert", "rule": "churn-drift"}, "pipeline_run": "abc",
                             "test": {"p_value": 0.01}}
    assert store.get_run(run.id) == done
    moves = [(e.before, e.after) for e in store.audit("churn-retrain") if e.action == "transition"]
    assert moves[0] == ({"state": "canary"}, {"state": "promoted"})


def test_an_illegal_move_is_a_conflict_naming_both_states_and_changes_nothing(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    run = store.create_run("churn-retrain")
    with pytest.raises(Conflict) as info:
        store.transition(run.id, "promoted")
    assert (info.value.from_state, info.value.to_state) == ("triggered", "promoted")  # type: ignore[attr-defined]
    with pytest.raises(Conflict) as info:
        store.transition(run.id, "evaluating", expect="retraining")
    assert info.value.from_state == "triggered"  # type: ignore[attr-defined]
    assert store.get_run(run.id).state == "triggered"
    store.transition(run.id, "rejected", reason="cooldown")
    with pytest.raises(Conflict, match="rejected ends a run"):
        store.transition(run.id, "retraining")
    with pytest.raises(InvalidInput):
        store.transition(run.id, "exploded")
    with pytest.raises(NotFound):
        store.transition("0" * 32, "retraining")


def test_of_controllers_racing_to_move_one_run_exactly_one_wins(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    run_id = gated_run(store)
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def move(to: str) -> None:
        start.wait()
        try:
            store.transition(run_id, to, expect="gated")
            outcomes.append(to)
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=move, args=(to,)) for to in ("shadow", "canary", "rejected") * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if o != "conflict"]
    assert len(outcomes) == 6 and len(winners) == 1
    assert store.get_run(run_id).state == winners[0]


def test_a_run_awaits_approval_then_goes_where_it_was_heading(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    run_id = gated_run(store)
    with pytest.raises(InvalidInput) as info:
        store.transition(run_id, "awaiting_approval")
    assert info.value.field == "resume_state"  # type: ignore[attr-defined]
    waiting = store.transition(run_id, "awaiting_approval", resume_state="shadow", reason="gates passed")
    assert (waiting.state, waiting.resume_state) == ("awaiting_approval", "shadow")
    assert [r.id for r in store.list_runs(state="awaiting_approval")] == [run_id]
    with acting_as("dana"):
        approved = store.approve(run_id, "numbers look right", actor="mallory")
    assert (approved.state, approved.resume_state, approved.reason) == ("shadow", None, "numbers look right")
    entry = store.audit("churn-retrain")[0]
    assert (entry.action, entry.actor, entry.reason) == ("approve", "dana", "numbers look right")
    assert entry.before == {"state": "awaiting_approval"} and entry.after == {"state": "shadow"}


def test_a_rejected_run_ends_and_says_why(world: Client) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    run_id = gated_run(store)
    store.transition(run_id, "awaiting_approval", resume_state="canary")
    rejected = store.reject(run_id, "not during the sale", actor="erin")
    assert (rejected.state, rejected.reason) == ("rejected", "not during the sale") and rejected.ended_at
    assert store.audit("churn-retrain")[0].action == "reject"


@pytest.mark.parametrize("decide", ["approve", "reject"])
def test_deciding_a_run_that_awaits_no_approval_is_a_conflict_naming_its_state(world: Client, decide: str) -> None:
    store = store_of(world)
    store.apply(AutomationPolicy.from_json(POLICY))
    run_id = gated_run(store)
    with pytest.raises(Conflict) as info:
        getattr(store, decide)(run_id, "why not")
    assert info.value.state == "gated" and "gated" in str(info.value)  # type: ignore[attr-defined]
    assert store.get_run(run_id).state == "gated"
    with pytest.raises(InvalidInput) as refused:
        getattr(store, decide)(run_id, "  ")
    assert refused.value.field == "reason"  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        getattr(store, decide)("f" * 32, "why")


def test_runs_list_newest_first_by_policy_and_state_and_page_on(world: Client) -> None:
    clock = iter(range(1_000, 100_000, 10))
    store = SqlAutomationStore(world.backend.db, clock=lambda: next(clock))  # type: ignore[attr-defined]
    store_of(world).apply(AutomationPolicy.from_json(POLICY))
    store_of(world).apply(AutomationPolicy.from_json(policy(name="other")))
    ids = [store.create_run("churn-retrain").id for _ in range(5)]
    other = store.create_run("other").id
    store.transition(ids[0], "rejected")
    assert [r.id for r in store.list_runs("churn-retrain")] == ids[::-1]
    assert [r.id for r in store.list_runs()] == [other, *ids[::-1]]
    assert [r.id for r in store.list_runs(state="rejected")] == [ids[0]]
    first = store.list_runs("churn-retrain", limit=2)
    from shipyard.automation._sql_store import run_key

    rest = store.list_runs("churn-retrain", after=run_key(first[-1]), limit=10)
    assert [r.id for r in first + rest] == ids[::-1]
    with pytest.raises(InvalidInput):
        store.list_runs(state="nowhere")
    with pytest.raises(NotFound):
        store.create_run("nope")


# -- leases -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def leases(world: Client) -> tuple[SqlAutomationStore, Clock]:
    clock = Clock()
    return SqlAutomationStore(world.backend.db, clock=clock), clock  # type: ignore[attr-defined]


def test_of_two_contenders_one_holds_the_lease_until_it_expires(leases: tuple[SqlAutomationStore, Clock]) -> None:
    store, clock = leases
    a = store.acquire_lease("churn-retrain", "controller-a", 30)
    assert a is not None and (a.holder, a.expires_at) == ("controller-a", clock.now + 30_000)
    assert store.acquire_lease("churn-retrain", "controller-b", 30) is None
    clock.now += 29_999
    assert store.acquire_lease("churn-retrain", "controller-b", 30) is None
    clock.now += 1  # expired
    b = store.acquire_lease("churn-retrain", "controller-b", 30)
    assert b is not None and b.holder == "controller-b" and b.acquired_at == clock.now
    with pytest.raises(Conflict) as info:
        store.renew_lease("churn-retrain", "controller-a", 30)
    assert info.value.holder == "controller-b"  # type: ignore[attr-defined]
    assert store.get_lease("churn-retrain") == b


def test_renewal_extends_a_live_lease_and_keeps_when_it_was_taken(leases: tuple[SqlAutomationStore, Clock]) -> None:
    store, clock = leases
    taken = store.acquire_lease("churn-retrain", "a", 10)
    assert taken is not None
    clock.now += 5_000
    renewed = store.renew_lease("churn-retrain", "a", 10)
    assert (renewed.acquired_at, renewed.expires_at) == (taken.acquired_at, clock.now + 10_000)
    again = store.acquire_lease("churn-retrain", "a", 60)  # acquiring one's own lease extends it too
    assert again is not None and again.acquired_at == taken.acquired_at and again.expires_at == clock.now + 60_000
    clock.now += 60_000  # expired, and nobody took it: renewing is too late
    with pytest.raises(Conflict, match="expired"):
        store.renew_lease("churn-retrain", "a", 10)
    with pytest.raises(Conflict, match="nobody"):
        store.renew_lease("other-policy", "a", 10)


def test_a_lease_is_released_only_by_its_holder(leases: tuple[SqlAutomationStore, Clock]) -> None:
    store, _ = leases
    store.acquire_lease("churn-retrain", "a", 10)
    assert store.release_lease("churn-retrain", "b") is False
    assert store.release_lease("churn-retrain", "a") is True
    assert store.get_lease("churn-retrain") is None
    assert store.acquire_lease("churn-retrain", "b", 10) is not None


@pytest.mark.parametrize("ttl", [0, -1, 86_401, float("inf"), True])
def test_a_lease_needs_a_sensible_time_to_live(leases: tuple[SqlAutomationStore, Clock], ttl: float) -> None:
    store, _ = leases
    with pytest.raises(InvalidInput) as info:
        store.acquire_lease("churn-retrain", "a", ttl)
    assert info.value.field == "ttl_s"  # type: ignore[attr-defined]


def test_of_many_contenders_racing_for_a_free_lease_exactly_one_gets_it(world: Client) -> None:
    store = store_of(world)
    won: list[str] = []
    start = threading.Barrier(8)

    def contend(holder: str) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            if store.acquire_lease("churn-retrain", holder, 30) is not None:
                won.append(holder)
        return run

    threads = [threading.Thread(target=contend(f"controller-{i}")) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1
    lease = store.get_lease("churn-retrain")
    assert lease is not None and lease.holder == won[0]
