"""The closed-loop harness: the drifting stream, training, regret, replays, the pipeline and the traffic driver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard.errors import InvalidInput
from shipyard.serving import ServeConfig, create_app
from shipyard.testing.closed_loop import (
    FEATURES,
    DriftingStream,
    accuracy_curve,
    regret,
    replay_retraining,
    train_model,
)
from shipyard.testing.closed_loop_pipeline import MODEL, retrain_closed_loop
from shipyard.testing.closed_loop_traffic import TrafficDriver
from shipyard.testing.closed_loop_world import LoopSettings, prepare_home
from tests.services import ServerThread, free_port

pytestmark = pytest.mark.xdist_group("closed-loop")  # one served home for the module, on one worker

STREAM = DriftingStream(n=4_000, seed=3)


def _accuracy(model: object, frame: pd.DataFrame) -> float:
    return float(np.mean(model.predict(frame[list(FEATURES)]) == frame["label"].to_numpy()))  # type: ignore[attr-defined]


# -- the stream -----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    pd.testing.assert_frame_equal(STREAM.frame(), DriftingStream(n=4_000, seed=3).frame())
    assert not STREAM.frame()["x0"].equals(DriftingStream(n=4_000, seed=4).frame()["x0"])


def test_the_concept_drifts_at_drift_at_so_each_regimes_model_fails_on_the_other() -> None:
    frame = STREAM.frame()
    before, after = frame.iloc[:STREAM.drift_index], frame.iloc[STREAM.drift_index:]
    assert set(before["regime"]) == {1} and set(after["regime"]) == {2}
    first, second = train_model(STREAM.regime_sample(1, 2000, 1)), train_model(STREAM.regime_sample(2, 2000, 2))
    assert _accuracy(first, before) > 0.85 and _accuracy(second, after) > 0.85
    assert _accuracy(first, after) < 0.6 and _accuracy(second, before) < 0.6
    assert 0.4 < before["label"].mean() < 0.6 and 0.4 < after["label"].mean() < 0.6


def test_the_shifted_inputs_move_at_the_drift_and_the_others_stay() -> None:
    frame = DriftingStream(n=20_000, seed=1, shifted=("x0", "x3"), shift=1.5).frame()
    means = frame.groupby("regime")[list(FEATURES)].mean()
    assert means.loc[2, "x0"] - means.loc[1, "x0"] == pytest.approx(1.5, abs=0.05)
    assert means.loc[2, "x3"] - means.loc[1, "x3"] == pytest.approx(1.5, abs=0.05)
    assert abs(means.loc[2, "x1"] - means.loc[1, "x1"]) < 0.05


def test_events_are_evenly_spaced_over_the_simulated_days() -> None:
    stream = DriftingStream(n=1_000, days=4.0, drift_at=0.25)
    times = stream.event_times()
    assert times[0] == stream.start and np.allclose(np.diff(times), 4 * 86_400 / 1_000)
    assert stream.drift_index == 250 and stream.drift_time == pytest.approx(stream.start + 86_400)


@pytest.mark.parametrize(("options", "field"), [({"n": 1}, "n"), ({"n": 10, "drift_at": 1.0}, "drift_at"),
                                                ({"n": 10, "days": 0}, "days"),
                                                ({"n": 10, "shifted": ("age",)}, "shifted")])
def test_a_stream_with_bad_settings_is_refused_naming_the_field(options: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        DriftingStream(**options)
    assert caught.value.context["field"] == field


def test_training_on_flipped_labels_gives_a_model_worse_than_chance() -> None:
    data = STREAM.regime_sample(1, 1000, 9)
    assert _accuracy(train_model(data, flip_labels=True), data) < 0.2
    with pytest.raises(InvalidInput):
        train_model(data.drop(columns=["label"]))


# -- accuracy over time, regret, replays -----------------------------------------------------------


def test_the_accuracy_curve_averages_each_bucket_and_skips_unanswered_events() -> None:
    times = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 25.0])
    correct = np.array([1.0, 0.0, np.nan, 1.0, 1.0, np.nan])
    curve = accuracy_curve(times, correct, bucket_s=10.0)
    assert curve["bucket_start"].tolist() == [0.0, 10.0]  # the last bucket had no answer
    assert curve["accuracy"].tolist() == [0.5, 1.0] and curve["n"].tolist() == [2, 2]


def test_regret_is_the_one_sided_area_below_the_better_reference_in_accuracy_days() -> None:
    times = np.arange(0, 2 * 86_400, 60.0)  # two days, an event a minute
    n, day = len(times), times < 86_400
    served = np.where(day, 1.0, 0.0)  # right on day one, wrong on day two
    first, second = np.where(day, 1.0, 0.5), np.where(day, 0.0, 1.0)
    assert regret(times, served, [first, second], bucket_s=3600) == pytest.approx(1.0)
    assert regret(times, np.ones(n), [first, second], bucket_s=3600) == 0.0  # beating both earns nothing back
    assert regret(times, served, [first], bucket_s=3600) == pytest.approx(0.5)
    with pytest.raises(InvalidInput):
        regret(times, served, [], bucket_s=3600)


def test_a_replay_that_never_retrains_keeps_the_champion_and_daily_retraining_recovers() -> None:
    stream = DriftingStream(n=6_000, days=6.0, seed=2)
    frame = stream.frame()
    champion = train_model(stream.regime_sample(1, 2000, 1))
    never = replay_retraining(frame, champion, every_s=None, window_s=86_400, label_delay_s=3600)
    daily = replay_retraining(frame, champion, every_s=86_400, window_s=86_400, label_delay_s=3600)
    expected = (champion.predict(frame[list(FEATURES)]) == frame["label"].to_numpy()).astype(int)
    assert np.array_equal(never, expected)
    last_day = frame["event_time"] >= stream.start + 5 * 86_400
    assert never[last_day].mean() < 0.6 < 0.85 < daily[last_day].mean()


# -- the retraining pipeline and the traffic driver against a real server --------------------------------


@pytest.fixture(scope="module")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("closed-loop-harness") / "home"
    prepare_home(home, STREAM, rows=1000)
    return home


def test_the_pipeline_registers_a_signed_champion_and_names_it_in_its_step_run(served_home: Path) -> None:
    with Client(Config(home=served_home)) as client:
        version = client.get_model_version_by_alias(MODEL, "production")
        assert version.version == 1 and version.signature is not None
        assert [c["name"] for c in version.signature["inputs"]] == list(FEATURES)
        experiment = client.get_experiment_by_name(retrain_closed_loop.name).id
        tagged = client.search_runs(experiment_ids=[experiment],
                                    filter="tags.`step.registered_model` = 'closed-loop/1'").items
        assert len(tagged) == 1 and tagged[0].tags["shipyard.step"] == "fit"


def test_the_pipeline_trains_on_the_newest_labelled_rows_and_falls_back_below_min_rows(
        served_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(served_home))
    recent = STREAM.regime_sample(2, 600, 4).assign(served_at=np.arange(600))
    with Client(Config(home=served_home)) as client:
        client.register_dataset("recent", recent)
        result = retrain_closed_loop.run({"labelled_data": "recent@latest", "recent_rows": 400, "min_rows": 100},
                                         client=client, executor="inline")
        assert result.output == 2
        assert client.get_run(result.run_id).tags["shipyard.registered_model"] == "closed-loop/2"
        fallback = retrain_closed_loop.run({"labelled_data": "recent@latest", "min_rows": 1000,
                                            "training_data": "closed-loop-train@latest"},
                                           client=client, executor="inline")
        assert fallback.output == 3
        model = client.load_model(f"models:/{MODEL}/2").unwrap()
        assert _accuracy(model, STREAM.regime_sample(2, 2000, 5)) > 0.85
        older = client.load_model(f"models:/{MODEL}/3").unwrap()
        assert _accuracy(older, STREAM.regime_sample(2, 2000, 5)) < 0.6


@pytest.fixture
def server(served_home: Path) -> Iterator[ServerThread]:
    with Client(Config(home=served_home)) as client:
        config = ServeConfig.for_uri(f"models:/{MODEL}@production", gc_freeze=False, access_log=False)
        server = ServerThread(create_app(config, client)).start()
        try:
            yield server
        finally:
            server.stop()


def test_the_driver_records_each_answer_and_posts_each_label_only_after_its_delay(server: ServerThread) -> None:
    frame = STREAM.frame().iloc[:300]
    batches: list[tuple[int, list[tuple[str, int]]]] = []
    lock = threading.Lock()
    traffic: TrafficDriver

    def post(batch: list[tuple[str, int]]) -> None:
        with lock:
            batches.append((traffic.sent, batch))

    traffic = TrafficDriver(server.url, frame, threads=4, label_delay=50, label_batch=40, post_labels=post)
    traffic.run()
    records = traffic.records()
    assert traffic.failed == 0 and len(records) == 300 and set(records["version"]) == {1}
    assert records["correct"].mean() > 0.8  # regime 1, served by the regime-1 champion
    posted = [rid for _, batch in batches for rid, _ in batch]
    assert posted == [f"ev-{i}" for i in range(250)]  # the last 50 labels are not due yet
    for sent, batch in batches:
        assert all(int(rid.split("-")[1]) < sent - 50 or sent == 300 for rid, _ in batch)
    assert dict(label for _, b in batches for label in b)["ev-7"] == int(frame["label"].iloc[7])


def test_the_driver_paces_to_its_rate_and_counts_requests_that_get_no_answer() -> None:
    frame = STREAM.frame().iloc[:20]
    traffic = TrafficDriver(f"http://127.0.0.1:{free_port()}", frame, threads=2, rate=100.0, timeout_s=2)
    traffic.run()
    assert traffic.failed == 20 and traffic.records()["correct"].isna().all()
    assert np.ptp(traffic.sent_at) >= 0.18  # 20 events at 100 per second: never faster


def test_the_loop_settings_make_a_policy_the_store_accepts() -> None:
    from shipyard.automation import AutomationPolicy

    policy = AutomationPolicy.from_json(LoopSettings(flip_labels=True).policy_yaml())
    assert policy.retrain.params["flip_labels"] is True
    assert policy.rollout.canary is not None and policy.rollout.canary.percent == 50.0
