"""Concurrency, crashes, interpreter exit and unreachable servers lose no logged data."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shipyard import Client, Config, RunStatus, StorageError, Unavailable
from shipyard.tracking import BatchWriter, LogBatch
from tests.services import free_port, running_server


def _env(config: Config) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_HOME"] = str(config.home)
    if config.url:
        env["SHIPYARD_URL"] = config.url
    else:
        env["SHIPYARD_DB"] = config.database_url
    env["SHIPYARD_FLUSH_INTERVAL"] = str(config.flush_interval)
    return env


def _python(code: str, config: Config, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=_env(config))


WORKER = """
    import sys, shipyard
    client = shipyard.Client()
    run_id, worker = sys.argv[1], int(sys.argv[2])
    for i in range(1000):
        client.log_metric(run_id, "points", float(i), step=worker * 1000 + i)
    client.log_param(run_id, f"worker{worker}", worker)
    client.close()
"""


def test_eight_processes_logging_into_one_run_lose_no_point(client_config: Config) -> None:
    client = Client(client_config)
    run = client.create_run("concurrency")
    workers = [_python(WORKER, client_config, run.id, str(w)) for w in range(8)]
    assert [w.wait(timeout=120) for w in workers] == [0] * 8
    client.end_run(run.id)
    history = client.get_metric_history(run.id, "points")
    assert len(history) == 8000
    assert sorted(m.step for m in history) == list(range(8000))
    assert len(client.get_run(run.id).params) == 8
    client.close()


CRASH = """
    import os, sys, time, shipyard
    client = shipyard.Client()
    run_id = sys.argv[1]
    for i in range(300):
        client.log_metric(run_id, "loss", float(i), step=i)
    # Wait (without flushing) until the background writer has stored the points on its
    # own; a loaded machine may take several intervals, so poll rather than sleep.
    deadline = time.monotonic() + 60
    while len(client.tracking_store.get_metric_history(run_id, "loss").items) < 300:
        assert time.monotonic() < deadline, "the background writer never flushed"
        time.sleep(float(os.environ["SHIPYARD_FLUSH_INTERVAL"]))
    client.log_metric(run_id, "loss", -1.0, step=300)  # lost: the process dies before a flush
    os._exit(9)
"""


def test_a_crash_loses_at_most_the_last_flush_interval(tmp_path: Path, sqlite_url: str) -> None:
    config = Config(home=tmp_path, db=sqlite_url, flush_interval=0.2)
    client = Client(config)
    run = client.create_run("crash")
    assert _python(CRASH, config, run.id).wait(timeout=60) == 9
    steps = [m.step for m in client.get_metric_history(run.id, "loss")]
    assert steps == list(range(300))
    client.close()


EXIT = """
    import sys, shipyard
    with_run = shipyard.start_run("exit")
    print(with_run.id, flush=True)
    for i in range(250):
        shipyard.log_metric("loss", float(i), step=i)
    # no end_run, no close: interpreter exit must flush and finish the run
"""


def test_interpreter_exit_flushes_and_finishes_the_active_run(tmp_path: Path, sqlite_url: str) -> None:
    config = Config(home=tmp_path, db=sqlite_url, flush_interval=30)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(EXIT)], env=_env(config),
                         capture_output=True, text=True, timeout=60, check=True)
    run_id = out.stdout.strip()
    client = Client(config)
    stored = client.get_run(run_id)
    assert stored.status is RunStatus.FINISHED
    assert stored.environment and "packages" in stored.environment  # captured in the background, kept at exit
    assert len(client.get_metric_history(run_id, "loss")) == 250
    client.close()


def test_points_spool_to_disk_while_the_server_is_down_and_are_sent_later(tmp_path: Path) -> None:
    server_config = Config(home=tmp_path / "server")
    port = free_port()
    client_config = Config(home=tmp_path / "client", url=f"http://127.0.0.1:{port}", flush_interval=30)
    with running_server(server_config, port):
        client = Client(client_config)
        run = client.create_run("spool")
    # The server is gone: logging still returns at once and the flush spools. Params and tags
    # are checked against the client's own limits meanwhile: the server's cannot be asked.
    started = time.monotonic()
    client.log_param(run.id, "lr", 0.1)
    client.set_tag(run.id, "phase", "offline")
    for i in range(100):
        client.log_metric(run.id, "loss", float(i), step=i)
    assert time.monotonic() - started < 10, "logging waited for the server"
    client.flush()
    assert list((tmp_path / "client" / "spool").glob("*/*.json"))
    with pytest.raises(Unavailable):
        client.get_metric_history(run.id, "loss")
    with running_server(server_config, port):
        client.end_run(run.id)
        assert len(client.get_metric_history(run.id, "loss")) == 100
        stored = client.get_run(run.id)
        assert stored.params == {"lr": "0.1"} and stored.tags["phase"] == "offline"
        assert not list((tmp_path / "client" / "spool").glob("*/*.json"))
        client.close()


def test_a_failing_flush_surfaces_at_run_end(tmp_path: Path, sqlite_url: str) -> None:
    client = Client(Config(home=tmp_path, db=sqlite_url, flush_interval=30))
    run = client.create_run("fail")
    client.log_metric(run.id, "loss", 1.0)

    def broken(batch: LogBatch) -> None:
        raise StorageError("disk full")

    writer = client.tracking.writer
    working, writer._sink = writer._sink, broken  # simulate the database failing underneath
    with pytest.raises(StorageError, match="disk full"):
        client.end_run(run.id)
    assert client.tracking_store.get_run(run.id).status is RunStatus.RUNNING
    writer._sink = working  # the point was kept and is written once storage recovers
    client.end_run(run.id)
    client.close()
    assert len(Client(Config(home=tmp_path, db=sqlite_url)).get_metric_history(run.id, "loss")) == 1


def test_writer_keeps_a_batch_after_a_storage_error_and_writes_it_on_retry() -> None:
    received: list[LogBatch] = []
    failures = [StorageError("locked")]

    def sink(batch: LogBatch) -> None:
        if failures:
            raise failures.pop()
        received.append(batch)

    writer = BatchWriter(sink, flush_interval=30)
    writer.metric("a" * 32, "loss", 1.0, 0, 0)
    with pytest.raises(StorageError):
        writer.flush()
    assert writer.pending == 1
    writer.flush()
    assert [len(b.metrics) for b in received] == [1]
    writer.close()
