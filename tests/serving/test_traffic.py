"""``shipyard serve`` follows the registry's traffic split live: routes added, reweighted, removed,
a shadow set and cleared, an alias moved, under steady load and with no failed request."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

import shipyard
from shipyard.registry import TrafficSplit
from shipyard.serving import ModelConfig, ServeConfig, Target
from tests.serving.conftest import cli_server, in_process
from tests.serving.test_processes import Load, wait_for

POLL = "0.3"


def _shares(load: Load, answers: int = 400, timeout: float = 15.0) -> dict[str, float]:
    """The share of each version among the next ``answers`` answers."""
    since, deadline = time.monotonic(), time.monotonic() + timeout
    while True:
        answered = [r[2] for r in load.results if r[0] >= since and r[1] == 200]
        if len(answered) >= answers:
            break
        assert time.monotonic() < deadline, f"only {len(answered)} answers to measure shares on"
        time.sleep(0.1)
    answered = answered[:answers]
    return {v: answered.count(v) / len(answered) for v in sorted(set(answered))}


def _switched(load: Load, versions: set[str], after: float) -> bool:
    """Whether the latest answers sent after ``after`` come from exactly ``versions``."""
    recent = [r[2] for r in load.results[-200:] if r[0] > after and r[1] == 200]
    return len(recent) >= 100 and set(recent) == versions


def _shadowed(server_url: str, version: str) -> float:
    text = httpx.get(f"{server_url}/metrics", timeout=10).text
    pattern = rf'^shipyard_shadow_requests_total{{[^}}]*version="{version}"[^}}]*outcome="ok"[^}}]*}} (\S+)'
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))


def test_serve_follows_the_split_through_0_10_50_0_and_an_alias_move_with_no_failed_request(home: Path) -> None:
    with shipyard.Client(home=home) as client, \
            cli_server(home, "models:/sum@production", "--poll-interval", POLL, "--no-access-log",
                       workers=2) as server, Load(server.url, threads=4) as load:
        registry = client.registry
        wait_for(lambda: len(load.results) >= 50, timeout=20)
        assert {r[2] for r in load.results} == {"1"}

        changed = time.monotonic()
        registry.set_traffic("sum", TrafficSplit.canary("production", "challenger", 10))
        wait_for(lambda: _switched(load, {"1", "2"}, changed + 1.0), timeout=20)
        ten = _shares(load)
        assert abs(ten.get("2", 0.0) - 0.10) < 0.05, ten

        registry.set_traffic("sum", {"routes": {"production": 50, "challenger": 50},
                                     "shadow": {"alias": "candidate", "fraction": 1.0}})
        wait_for(lambda: _shadowed(server.url, "3") > 50, timeout=20)
        time.sleep(1.0)  # the other worker has polled too
        half = _shares(load)
        assert abs(half.get("2", 0.0) - 0.50) < 0.08, half
        assert set(half) == {"1", "2"}  # the shadow's answers are never returned

        changed = time.monotonic()
        client.set_alias("sum", "challenger", 3)  # the challenger route follows its alias
        wait_for(lambda: _switched(load, {"1", "3"}, changed), timeout=20)

        changed = time.monotonic()
        registry.set_traffic("sum", None)
        wait_for(lambda: _switched(load, {"1"}, changed), timeout=20)
        time.sleep(1.5)  # each worker publishes its counters every second
        shadowed = _shadowed(server.url, "3")
        time.sleep(1.5)
        assert _shadowed(server.url, "3") == shadowed  # the shadow is gone with the split

    assert load.failures() == []
    assert len(load.results) > 1000


def _versions(url: str, n: int = 40) -> set[str]:
    with httpx.Client() as http:
        return {http.post(f"{url}/invocations", json={"inputs": [[1, 2, 3]]}).headers["shipyard-model-version"]
                for _ in range(n)}


def test_a_model_configured_not_to_follow_traffic_keeps_its_own_routes(client: shipyard.Client) -> None:
    client.registry.set_traffic("sum", {"routes": {"production": 50, "challenger": 50}})
    config = ServeConfig(models=(ModelConfig("sum", (Target("models:/sum@production"),), poll_interval_s=0.1,
                                             traffic=False),))
    with in_process(config, client) as server:
        time.sleep(0.3)
        assert _versions(server.url) == {"1"}
    with in_process(ServeConfig.for_uri("models:/sum@production"), client) as server:
        assert _versions(server.url) == {"1", "2"}  # by default the split is followed from the start


def test_a_split_naming_a_deleted_version_s_alias_leaves_the_configured_routes_serving(
        client: shipyard.Client) -> None:
    client.registry.set_traffic("sum", {"routes": {"production": 50, "candidate": 50}})
    client.delete_model_version("sum", 3)  # takes alias candidate with it
    config = ServeConfig(models=(ModelConfig.for_uri("models:/sum@production", poll_interval_s=0.1),))
    with in_process(config, client) as server:
        assert _versions(server.url) == {"1"}
        client.registry.set_traffic("sum", {"routes": {"production": 50, "challenger": 50}})
        time.sleep(0.5)
        assert _versions(server.url) == {"1", "2"}
