"""System metrics: sampled into runs under ``system/``, on for pipeline steps, gauges in serving."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

import shipyard
from shipyard import Client, Config
from shipyard.config import load_config
from shipyard.errors import ConfigError, InvalidInput
from shipyard.pipelines import LocalExecutor, pipeline, step
from shipyard.serving import ServeConfig
from shipyard.serving._inference_log import RunSink
from shipyard.serving._metrics import Metrics, MetricsDirectory, render
from shipyard.tracking import SystemMetricsSampler
from tests.serving.conftest import in_process
from tests.serving.fixture_models import RowSum

THREAD = "shipyard-system-metrics"

Point = tuple[str, float, int, int]


def burn(seconds: float) -> None:
    """Keep one core busy in pure Python for ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(2000))


def sampling_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


def system_keys(client: Client, run_id: str) -> set[str]:
    return {k for k in client.get_run(run_id).metrics if k.startswith("system/")}


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Client]:
    c = Client(Config(home=tmp_path / "home", flush_interval=0.2, system_metrics_interval=0.2))
    yield c
    c.close()


# -- runs -----------------------------------------------------------------------------------------


def test_a_run_burning_cpu_logs_cpu_and_rss_points_every_interval(client_config: Config) -> None:
    with Client(client_config.with_(system_metrics_interval=0.2)) as client:
        with shipyard.start_run(experiment="sys", client=client, system_metrics=True) as run:
            burn(1.5)
        cpu = client.get_metric_history(run.id, "system/cpu_percent")
        own = client.get_metric_history(run.id, "system/process_cpu_percent")
        rss = client.get_metric_history(run.id, "system/rss_mb")
        assert len(cpu) >= 3 and any(p.value > 0 for p in cpu)
        assert all(0 <= p.value <= 100 for p in cpu)
        assert len(own) >= 3 and max(p.value for p in own) > 5  # one core busy, on a machine others share
        assert len(rss) >= 3 and all(p.value > 1 for p in rss)
        assert [p.step for p in rss] == list(range(len(rss)))
        assert {"system/memory_available_mb", "system/open_files", "system/disk_read_mb",
                "system/network_sent_mb"} <= system_keys(client, run.id)


def test_a_run_ending_between_readings_gets_a_last_one_and_its_thread_is_gone(tmp_path: Path) -> None:
    # 5 s apart: the baseline is taken after 1 s, the first reading would come at 6 s.
    with Client(Config(home=tmp_path / "home", system_metrics_interval=5.0)) as client:
        run = client.create_run("sys", system_metrics=True)
        burn(1.5)
        assert len(sampling_threads()) == 1
        client.end_run(run.id)
        assert sampling_threads() == []
        last = client.get_metric_history(run.id, "system/process_cpu_percent")
        assert [p.step for p in last] == [0] and last[0].value > 5


def test_plain_runs_are_not_sampled_unless_asked(local: Client) -> None:
    run_id = local.tracking.start_run("sys")
    with shipyard.start_run(client=local) as fluent:
        time.sleep(0.6)
        assert sampling_threads() == []
    local.end_run(run_id)
    assert system_keys(local, run_id) == set() and system_keys(local, fluent.id) == set()
    assert Config().system_metrics is False and Config().system_metrics_interval == 10.0


def test_the_setting_turns_sampling_on_for_every_run_from_the_environment_or_toml(tmp_path: Path) -> None:
    env = {"SHIPYARD_HOME": str(tmp_path / "home"), "SHIPYARD_SYSTEM_METRICS": "on",
           "SHIPYARD_SYSTEM_METRICS_INTERVAL": "0.2", "SHIPYARD_CONFIG": str(tmp_path / "none.toml")}
    config = load_config(env)
    assert config.system_metrics is True and config.system_metrics_interval == 0.2
    toml = tmp_path / "shipyard.toml"
    toml.write_text("system_metrics = true\nsystem_metrics_interval = 5\n")
    assert load_config({"SHIPYARD_CONFIG": str(toml)}).system_metrics_interval == 5.0
    with Client(config) as client:
        with shipyard.start_run(client=client) as run:
            burn(0.6)
        assert "system/cpu_percent" in system_keys(client, run.id)
        unsampled = client.create_run("sys", system_metrics=False)
        assert sampling_threads() == []
        client.end_run(unsampled.id)


@pytest.mark.parametrize(("name", "raw"), [("SHIPYARD_SYSTEM_METRICS", "maybe"),
                                           ("SHIPYARD_SYSTEM_METRICS_INTERVAL", "0"),
                                           ("SHIPYARD_SYSTEM_METRICS_INTERVAL", "soon")])
def test_a_bad_system_metrics_setting_is_a_config_error_naming_it(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({name: raw, "SHIPYARD_CONFIG": "/nonexistent/shipyard.toml"})
    assert info.value.field == name.removeprefix("SHIPYARD_").lower()


# -- pipeline steps -------------------------------------------------------------------------------


@step
def busy(seconds: float) -> float:
    burn(seconds)
    return seconds


def test_a_pipeline_step_run_records_system_metrics_by_default(local: Client) -> None:
    @pipeline
    def work(seconds: float = 1.0):
        return busy(seconds)

    with LocalExecutor(1) as executor:  # the step in a worker process, sampled there
        result = work.run(client=local, executor=executor)
    in_worker = local.get_run(result.steps["busy"].run_id)  # type: ignore[arg-type]
    assert in_worker.metrics["system/process_cpu_percent"].value > 5
    assert {"system/cpu_percent", "system/rss_mb", "duration_s"} <= set(in_worker.metrics)
    assert local.get_metric_history(in_worker.id, "system/rss_mb")[0].step == 0

    inline = work.run({"seconds": 0.7}, client=local, executor="inline")
    assert {"system/cpu_percent", "system/rss_mb"} <= system_keys(local, inline.steps["busy"].run_id)  # type: ignore[arg-type]
    quiet = work.run({"seconds": 0.5}, client=local, executor="inline", system_metrics=False)
    assert system_keys(local, quiet.steps["busy"].run_id) == set()  # type: ignore[arg-type]
    assert sampling_threads() == []  # the runner's sampling thread ended with its run


# -- the sampler ----------------------------------------------------------------------------------


def collect(sampler_points: list[Point]) -> SystemMetricsSampler:
    return SystemMetricsSampler(lambda *point: sampler_points.append(point), interval=0.05,  # type: ignore[arg-type]
                                clock=lambda: 1700000000.25)


def test_each_reading_shares_the_clocks_timestamp_and_its_number_as_step() -> None:
    points: list[Point] = []
    with collect(points):
        time.sleep(0.3)
    assert {stamp for _, _, stamp, _ in points} == {1700000000250}
    steps = sorted({s for *_, s in points})
    assert steps == list(range(len(steps))) and len(steps) >= 2
    for s in steps:
        assert {k for k, *_, at in points if at == s} >= {"system/rss_mb", "system/cpu_percent"}


def test_a_kept_thread_samples_span_after_span_each_counted_afresh_until_closed() -> None:
    points: list[Point] = []
    sampler = SystemMetricsSampler(lambda *point: points.append(point), interval=0.05, keep_thread=True)
    for _ in range(2):
        points.clear()
        with sampler:
            time.sleep(0.25)
        assert not sampler.running and len(sampling_threads()) == 1
        steps = sorted({s for *_, s in points})
        assert steps[0] == 0 and steps == list(range(len(steps)))
        count = len(points)
        time.sleep(0.15)
        assert len(points) == count  # nothing between spans
    sampler.close()
    assert sampling_threads() == []


def test_a_span_right_after_another_gets_its_reading_though_the_next_of_the_first_was_seconds_away() -> None:
    points: list[Point] = []
    sampler = SystemMetricsSampler(lambda *point: points.append(point), interval=5.0, keep_thread=True)
    for _ in range(2):  # baseline after 1 s, the last reading at 1.3 s; the next would have been at 6 s
        points.clear()
        with sampler:
            time.sleep(1.3)
        assert {s for *_, s in points} == {0} and "system/rss_mb" in {k for k, *_ in points}
    sampler.close()


def test_a_figure_psutil_cannot_read_is_left_out_and_the_rest_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> None:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "virtual_memory", refused)
    points: list[Point] = []
    with collect(points):
        time.sleep(0.2)
    keys = {k for k, *_ in points}
    assert "system/rss_mb" in keys and "system/cpu_percent" in keys
    assert not keys & {"system/memory_used_mb", "system/memory_available_mb"}


def test_without_pynvml_there_are_no_gpu_figures_and_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # as if the [gpu] extra were not installed
    reading = SystemMetricsSampler(lambda *p: None).read()
    assert reading and not any(k.startswith("gpu_") for k in reading)
    assert not any(k.startswith("gpu_") for k in SystemMetricsSampler(lambda *p: None, gpu=False).read())


def test_a_sink_that_raises_stops_the_sampling_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def gone(key: str, value: float, timestamp: int, step: int) -> None:
        calls.append(key)
        raise shipyard.Conflict("run has ended")

    sampler = SystemMetricsSampler(gone, interval=0.05)
    with caplog.at_level(logging.WARNING, "shipyard.tracking"):
        sampler.start()
        time.sleep(0.4)
        assert not sampler.running
        sampler.stop()
    assert len(calls) == 1
    assert [r.message for r in caplog.records].count("system metrics: logging a reading failed; sampling stops") == 1


def test_an_interval_that_is_not_a_positive_number_is_refused() -> None:
    for bad in (0, -1, float("nan"), True, "10"):
        with pytest.raises(InvalidInput, match="'interval' parameter"):
            SystemMetricsSampler(lambda *p: None, bad)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() of a process with threads
def test_a_forked_child_neither_samples_nor_logs_and_stop_there_returns_at_once() -> None:
    points: list[Point] = []
    sampler = collect(points).start()
    time.sleep(0.2)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        try:
            before = len(points)
            was_running = sampler.running
            sampler.stop()
            time.sleep(0.2)
            os.write(write_end, f"{was_running} {len(points) - before}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    report = os.read(read_end, 100).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert report == "False 0"
    assert sampler.running
    sampler.stop()
    assert not sampler.running and sampling_threads() == []


# -- serving --------------------------------------------------------------------------------------


def test_serving_metrics_show_the_process_and_machine_gauges(tmp_path: Path) -> None:
    with Client(home=tmp_path / "home") as client:
        run = client.create_run("serving")
        client.log_model(run.id, RowSum(), "sum", input_example=np.ones((2, 3)), registered_model_name="sum")
        client.end_run(run.id)
        client.set_alias("sum", "production", 1)
        with in_process(ServeConfig.for_uri("models:/sum@production"), client) as server:
            httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]})
            first = httpx.get(f"{server.url}/metrics").text
            time.sleep(1.1)  # the next reading has CPU use to measure since this one
            text = httpx.get(f"{server.url}/metrics").text
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and line[0] != "#"}
    assert values["process_open_fds"] >= 3
    assert values["shipyard_system_memory_available_bytes"] > 1e6
    assert values["shipyard_system_memory_used_bytes"] > 1e6
    assert 0 <= values["shipyard_system_cpu_percent"] <= 100 and values["shipyard_process_cpu_percent"] >= 0
    assert "# TYPE shipyard_process_cpu_percent gauge" in first


def test_a_serving_workers_inference_log_runs_are_not_sampled_even_with_the_setting_on(tmp_path: Path) -> None:
    with Client(Config(home=tmp_path / "home", system_metrics=True, system_metrics_interval=0.2)) as client:
        sink = RunSink(client, run_name="worker-0")
        sink.write("m", "segment.parquet", b"rows")
        assert sampling_threads() == []
        client.end_run(sink.run_id("m"))
        assert system_keys(client, sink.run_id("m")) == set()


def test_machine_gauges_are_taken_once_across_workers_while_process_gauges_add_up(tmp_path: Path) -> None:
    shared = MetricsDirectory(tmp_path)
    snapshots = []
    for worker in ("1", "2"):
        snapshot = Metrics().snapshot()
        shared.publish(worker, snapshot)
        snapshots.append(snapshot)
    text = render(shared.collect()).decode()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and line[0] != "#"}
    fds = [s["process_open_fds"][""] for s in snapshots]
    memory = [s["shipyard_system_memory_available_bytes"][""] for s in snapshots]
    assert values["process_open_fds"] == sum(fds)
    assert values["shipyard_system_memory_available_bytes"] == max(memory)
