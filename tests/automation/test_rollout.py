"""The rollout driver on a real SQLite store and real inference logs (written by the serving log writer):
traffic moved through the registry, shadow and canary judged from the log, promotion and rollback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard.automation import AutomationPolicy, AutomationRun
from shipyard.automation._rollout import RolloutDriver, StageResult
from shipyard.errors import Conflict
from shipyard.registry import TrafficSplit
from shipyard.serving import InferenceLogConfig
from shipyard.serving._inference_log import Entry, InferenceLog, RunSink
from shipyard.testing.registry import fake_package_run

T0 = time.time() - 600  # the stages began ten minutes ago; rows are logged since


def _policy(gates: dict[str, Any] | None = None, **rollout: Any) -> AutomationPolicy:
    return AutomationPolicy.from_json({
        "name": "churn-retrain", "model": "churn", "triggers": [{"type": "manual"}],
        "retrain": {"pipeline": "train_churn"},
        "evaluation": {"metrics": ["accuracy"], "data": "ds:churn-holdout@latest"},
        "gates": {"max_latency_p99_ms": 50} if gates is None else gates,
        "rollout": {"shadow": {"requests": 50}, "canary": {"percent": 50, "duration": "1h"},
                    "sequential": {"alpha": 0.05, "power": 0.8, "min_effect": 0.1}, **rollout}})


def _run(stage: str, **evidence: Any) -> AutomationRun:
    return AutomationRun("0" * 32, "churn-retrain", 1, stage, int(T0 * 1000), int(T0 * 1000), evidence={
        "champion_version": 1, "challenger_version": 2, f"{stage}_started_at": T0, **evidence})


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path) -> Iterator[Client]:
    with Client(Config(home=tmp_path / "home", db=sqlite_url, flush_interval=0.2)) as client:
        run_id = fake_package_run(client.tracking_store)
        for _ in range(2):
            client.register_model(f"runs:/{run_id}/model", "churn")
        client.set_alias("churn", "production", 1)
        yield client


def _driver(client: Client, clock: Any = time.time) -> RolloutDriver:
    return RolloutDriver(client.registry_store, client.monitor_store, tracking=client.tracking_store, clock=clock)


class Served:
    """Requests as ``shipyard serve`` logs them, written by its own log writer to the client's store."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.labels: list[tuple[str, int]] = []
        self._n = 0

    def write(self, entries: list[Entry]) -> None:
        log = InferenceLog(InferenceLogConfig(flush_interval_s=60), RunSink(self.client, run_name="test"))
        log.start()
        for entry in entries:
            log.record(entry)
        log.close()

    def requests(self, version: int, n: int, *, route: str = "production", accuracy: float = 1.0,
                 errors: int = 0, latency_ms: float = 5.0, seed: int = 0, ids: list[str] | None = None,
                 label: bool = True) -> list[str]:
        """``n`` one-row requests answered by ``version``; a share ``accuracy`` of them labelled
        with their prediction (the rest with the other class); ``errors`` of them failed (500)."""
        rng = np.random.default_rng(seed)
        entries, names = [], ids or []
        for i in range(n):
            if ids is None:
                self._n += 1
                names.append(f"req-{self._n}")
            x = float(i % 2)
            failed = i < errors
            at = int((T0 + 1 + i * 0.01) * 1000)
            outputs = None if failed else {"predict": np.array([x])}
            entries.append(Entry(at, names[i], "churn", str(version), route, latency_ms, 500 if failed else 200, 1,
                                 np.array([[x]]), outputs, ("x",), "boom" if failed else None))
            if label and not failed and route != "shadow":
                correct = rng.random() < accuracy
                self.labels.append((names[i], int(x) if correct else 1 - int(x)))
        self.write(entries)
        return names

    def send_labels(self) -> None:
        self.client.log_labels(pd.DataFrame(self.labels, columns=["request_id", "label"]), model="churn")
        self.labels = []


# -- traffic -----------------------------------------------------------------------------------


def test_starting_a_shadow_sets_the_challenger_alias_and_a_shadow_split_once(client: Client) -> None:
    driver = _driver(client)
    evidence = driver.start_shadow("churn", 2, 1.0)
    assert evidence["champion_version"] == 1 and evidence["challenger_version"] == 2
    assert client.get_registered_model("churn").aliases == {"production": 1, "challenger": 2}
    assert client.registry.get_traffic("churn") == TrafficSplit({"production": 100}, "challenger", 1.0)
    driver.start_shadow("churn", 2, 1.0)  # after a crash: the same again, nothing new
    actions = [e.action for e in client.model_history("churn")]
    assert actions.count("set_traffic") == 1 and actions.count("set_alias") == 2
    driver.start_canary("churn", 2, 10)
    assert client.registry.get_traffic("churn") == TrafficSplit({"production": 90, "challenger": 10})


def test_a_rollout_needs_a_champion_other_than_the_challenger(client: Client) -> None:
    with pytest.raises(Conflict):
        _driver(client).start_canary("churn", 1, 10)
    client.delete_alias("churn", "production")
    with pytest.raises(Conflict):
        _driver(client).start_shadow("churn", 2, 1.0)
    assert client.registry.get_traffic("churn") is None


def test_promotion_moves_production_clears_the_split_and_removes_the_challenger_alias(client: Client) -> None:
    driver = _driver(client)
    driver.start_canary("churn", 2, 50)
    first = driver.promote("churn", 2)
    again = driver.promote("churn", 2)
    assert first["version"] == again["version"] == 2 and first["previous_version"] == 1
    assert client.get_registered_model("churn").aliases == {"production": 2}
    assert client.registry.get_traffic("churn") is None
    actions = [e.action for e in client.model_history("churn")]
    assert actions.count("set_traffic") == 2 and actions.count("delete_alias") == 1


def test_rollback_clears_the_split_keeps_the_champion_and_removes_the_challenger_alias(client: Client) -> None:
    driver = _driver(client)
    driver.start_canary("churn", 2, 50)
    client.set_alias("churn", "production", 2)  # half-promoted before a crash
    driver.rollback("churn", 1)
    driver.rollback("churn", 1)
    assert client.get_registered_model("churn").aliases == {"production": 1}
    assert client.registry.get_traffic("churn") is None
    assert [e.action for e in client.model_history("churn")].count("set_traffic") == 2


# -- shadow ------------------------------------------------------------------------------------


def test_the_shadow_waits_for_enough_mirrored_requests_then_passes_with_their_agreement(client: Client) -> None:
    served, driver = Served(client), _driver(client)
    ids = served.requests(1, 60)
    served.requests(2, 30, route="shadow", ids=ids[:30])
    waiting = driver.check_shadow(_policy(), _run("shadow"))
    assert waiting.outcome == "wait" and waiting.evidence["challenger"]["requests"] == 30
    served.requests(2, 30, route="shadow", ids=ids[30:])
    result = driver.check_shadow(_policy(), _run("shadow"))
    assert result.outcome == "pass", result
    assert result.evidence["agreement"] == 1.0 and result.evidence["compared_rows"] == 60
    assert result.evidence["champion"]["requests"] == 60  # mirrored copies never count as the champion's


def test_the_shadow_fails_a_challenger_that_errors_or_is_slow(client: Client) -> None:
    served, driver = Served(client), _driver(client)
    ids = served.requests(1, 60)
    served.requests(2, 60, route="shadow", ids=ids, errors=12)
    result = driver.check_shadow(_policy(), _run("shadow"))
    assert result.outcome == "fail" and "failed 20.00%" in (result.reason or "")
    assert result.evidence["challenger"]["errors"] == 12 and result.evidence["champion"]["errors"] == 0

    other = Served(client)
    slow = _run("shadow", shadow_started_at=T0 + 100)  # a later stage, on fresh rows
    ids = [f"late-{i}" for i in range(60)]
    for entries_version, route, latency in ((1, "production", 5.0), (2, "shadow", 80.0)):
        other.write([Entry(int((T0 + 101) * 1000), i, "churn", str(entries_version), route, latency, 200, 1,
                           np.array([[0.0]]), {"predict": np.array([0.0])}, ("x",), None) for i in ids])
    result = driver.check_shadow(_policy(), slow)
    assert result.outcome == "fail" and "p99 80.0 ms exceeds 50 ms" in (result.reason or "")


# -- canary ------------------------------------------------------------------------------------


def test_a_canary_as_accurate_as_the_champion_passes_before_its_limits(client: Client) -> None:
    served, driver = Served(client), _driver(client)
    served.requests(1, 400, accuracy=0.9, seed=1)
    served.requests(2, 400, route="challenger", accuracy=0.9, seed=2)
    early = driver.check_canary(_policy(), _run("canary"))
    assert early.outcome == "wait"  # answers, but no label yet
    served.send_labels()
    result = driver.check_canary(_policy(), _run("canary"))
    assert result.outcome == "pass", result
    test = result.evidence["test"]
    assert test["llr"] >= test["upper"] and not result.evidence["ended_by_limit"]
    assert result.evidence["challenger"]["labelled"] == 400 and 0.85 < result.evidence["challenger"]["accuracy"] < 0.95


def test_a_less_accurate_canary_fails_early(client: Client) -> None:
    served, driver = Served(client), _driver(client)
    served.requests(1, 300, accuracy=0.95, seed=3)
    served.requests(2, 100, route="challenger", accuracy=0.5, seed=4)
    served.send_labels()
    result = driver.check_canary(_policy(), _run("canary"))
    assert result.outcome == "fail" and "less accurate" in (result.reason or "")
    assert result.evidence["test"]["llr"] <= result.evidence["test"]["lower"]


def test_a_canary_undecided_at_its_duration_fails_as_inconclusive(client: Client) -> None:
    served = Served(client)
    served.requests(1, 40, accuracy=0.9, seed=5)
    served.requests(2, 40, route="challenger", accuracy=0.85, seed=6)
    served.send_labels()
    policy = _policy(canary={"percent": 50, "duration": "30m"})
    assert _driver(client).check_canary(policy, _run("canary")).outcome == "wait"  # 10 minutes in
    later = _driver(client, clock=lambda: T0 + 1800)
    result: StageResult = later.check_canary(policy, _run("canary"))
    assert result.outcome == "fail" and "inconclusive" in (result.reason or "")
    assert result.evidence["ended_by_limit"] and result.evidence["test"]["inconclusive"]


def test_a_canary_whose_challenger_errors_more_fails_whatever_its_accuracy(client: Client) -> None:
    served, driver = Served(client), _driver(client)
    served.requests(1, 100, accuracy=0.9, seed=7)
    served.requests(2, 100, route="challenger", accuracy=0.9, errors=30, seed=8)
    served.send_labels()
    result = driver.check_canary(_policy(), _run("canary"))
    assert result.outcome == "fail" and "failed 30.00%" in (result.reason or "")


# -- end to end: a real server follows the driver, and its own log judges the challenger ---------


def test_a_served_challenger_is_shadowed_canaried_failed_and_rolled_back_through_the_live_log(
        client: Client) -> None:
    import httpx

    from shipyard.serving import ModelConfig, ServeConfig
    from tests.serving.conftest import in_process
    from tests.serving.fixture_models import RowSum

    run = client.create_run("rollout-fixtures")
    for offset in (0.0, 1000.0):  # versions 3 and 4: the challenger answers 1000 more than the champion
        client.log_model(run.id, RowSum(offset=offset), f"sum{int(offset)}", input_example=np.ones((2, 3)),
                         registered_model_name="churn")
    client.end_run(run.id)
    client.set_alias("churn", "production", 3)
    clock = {"now": time.time()}
    driver = _driver(client, clock=lambda: clock["now"])
    config = ServeConfig(models=(ModelConfig.for_uri("models:/churn@production", poll_interval_s=0.1),),
                         inference_log=InferenceLogConfig(flush_interval_s=0.2), gc_freeze=False)

    def send(n: int) -> list[tuple[str, str, float]]:
        out = []
        with httpx.Client() as http:
            for i in range(n):
                r = http.post(f"{server.url}/invocations", json={"inputs": [[i, 1, 1]]})
                assert r.status_code == 200, r.text
                out.append((r.headers["x-request-id"], r.headers["shipyard-model-version"], float(i + 2)))
        return out

    def settled(check: Any, run: AutomationRun) -> StageResult:
        deadline = time.monotonic() + 10
        while True:  # until the log's segments are written and read
            clock["now"] = time.time()
            result: StageResult = check(_policy(gates={}), run)  # a busy test machine's latency is no signal
            if result.outcome != "wait" or time.monotonic() > deadline:
                return result
            time.sleep(0.2)

    def shadowing(url: str) -> bool:
        metadata = httpx.get(f"{url}/v2/models/churn").json()
        return "4" in metadata["versions"]

    def serving(versions: set[str]) -> bool:
        return {v for _, v, _ in send(20)} == versions

    with in_process(config, client) as server:
        started = time.time() - 0.001
        driver.start_shadow("churn", 4, 1.0)
        _until(lambda: shadowing(server.url))  # the shadow is loaded and warmed
        send(60)
        shadow_run = _run("shadow", champion_version=3, challenger_version=4, shadow_started_at=started)
        shadow = settled(driver.check_shadow, shadow_run)
        assert shadow.outcome == "pass", shadow
        assert shadow.evidence["challenger"]["requests"] >= 50 and shadow.evidence["agreement"] == 0.0

        driver.start_canary("churn", 4, 50)
        _until(lambda: serving({"3", "4"}))
        started = time.time() - 0.001
        answers = send(200)
        assert {v for _, v, _ in answers} == {"3", "4"}
        with httpx.Client() as http:  # the truth is the champion's answer: the challenger is always wrong
            labels = [{"request_id": rid, "label": truth} for rid, _, truth in answers]
            assert http.post(f"{server.url}/v1/feedback", json={"labels": labels}).status_code == 202
        canary_run = _run("canary", champion_version=3, challenger_version=4, canary_started_at=started)
        canary = settled(driver.check_canary, canary_run)
        assert canary.outcome == "fail" and "less accurate" in (canary.reason or ""), canary
        assert canary.evidence["champion"]["accuracy"] == 1.0 and canary.evidence["challenger"]["accuracy"] == 0.0

        driver.rollback("churn", 3)
        _until(lambda: serving({"3"}))
    assert client.get_registered_model("churn").aliases == {"production": 3}


def _until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
