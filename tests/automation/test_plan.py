"""``plan(model)``: what would trigger now and what would happen next, acting on nothing — in
Python, over REST (``GET /api/v1/automation/plan/{model}``) and through a remote client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard import Client, Config
from shipyard.automation import Controller
from shipyard.errors import NotFound
from shipyard.server import create_app
from tests.automation.ct_world import ct_policy, frame, make_ct_world
from tests.services import ServerThread


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Client]:
    with Client(Config(home=tmp_path / "home", flush_interval=0.2)) as client:
        make_ct_world(client, tmp_path)
        client.automation.apply_policy(ct_policy(tmp_path, guards={"cooldown": "1s", "require_approval": True}))
        yield client


def test_with_nothing_firing_the_plan_says_so_and_changes_nothing(world: Client) -> None:
    plan = world.automation.plan("churn")
    assert plan.model == "churn" and plan.champion == 1
    [policy] = plan.policies
    assert policy.policy == "churn-ct" and policy.active_run is None and not policy.would_start
    assert policy.next == "nothing: no trigger fires now" and policy.guards and policy.guards["allowed"]
    assert world.automation.list_runs("churn-ct") == []


def test_a_new_dataset_version_would_start_a_run_and_planning_starts_none(world: Client) -> None:
    world.register_dataset("churn-holdout", frame(400, 5))
    [policy] = world.automation.plan("churn").policies
    assert policy.would_start and policy.next_states == ["triggered"]
    assert policy.firing[0]["type"] == "dataset" and policy.firing[0]["version"] == 2
    assert policy.next.startswith("a run would start (dataset trigger")
    assert world.automation.list_runs("churn-ct") == []
    assert world.backend.automation.get_lease("churn-ct") is None  # type: ignore[attr-defined]


def test_an_active_run_shows_where_it_goes_next(world: Client) -> None:
    run = world.automation.request_run("churn-ct", "now")
    [policy] = world.automation.plan("churn").policies
    assert policy.active_run and policy.active_run["id"] == run.id and policy.active_run["state"] == "triggered"
    assert policy.next_states == ["retraining"] and "pipeline train_churn" in policy.next
    ctl = Controller(world, holder="plan-test", executor="inline", notifiers={})
    try:
        for _ in range(6):
            ctl.tick()
            ctl.wait(60)
            if world.automation.get_run(run.id).state == "awaiting_approval":
                break
    finally:
        ctl.close()
    [policy] = world.automation.plan("churn").policies
    assert policy.active_run and policy.active_run["state"] == "awaiting_approval"
    assert policy.next_states == ["canary", "rejected"] and "approve -> canary" in policy.next


def test_a_model_that_is_not_registered_is_not_found_naming_the_field(world: Client) -> None:
    with pytest.raises(NotFound) as info:
        world.automation.plan("nope")
    assert info.value.field == "model"  # type: ignore[attr-defined]
    assert world.automation.plan("churn").policies  # the registered one still plans


def test_the_rest_route_and_the_remote_client_answer_the_same_plan(world: Client, tmp_path: Path) -> None:
    world.register_dataset("churn-holdout", frame(400, 6))
    thread = ServerThread(create_app(world.config)).start()
    try:
        answer = httpx.get(f"{thread.url}/api/v1/automation/plan/churn")
        assert answer.status_code == 200
        body = answer.json()
        assert body["model"] == "churn" and body["policies"][0]["would_start"] is True
        missing = httpx.get(f"{thread.url}/api/v1/automation/plan/nope")
        assert missing.status_code == 404 and "model" in missing.text
        with Client(Config(home=tmp_path / "remote", url=thread.url)) as remote:
            plan = remote.automation.plan("churn")
            assert plan.policies[0].firing == body["policies"][0]["firing"]
            with pytest.raises(NotFound):
                remote.automation.plan("nope")
    finally:
        thread.stop()
