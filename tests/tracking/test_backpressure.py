"""The logging buffer is bounded: a full buffer makes the caller wait, so memory and crash loss stay bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard import Client, Config, StorageError
from shipyard.config import load_config
from shipyard.errors import ConfigError
from shipyard.tracking import BatchWriter, LogBatch
from shipyard.tracking._spool import DiskSpool
from shipyard.tracking._writer import entry_bytes

RUN = "0" * 32


class GatedSink:
    """A sink that stores nothing until ``open`` is set, and checks the bound at every write."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.batches: list[LogBatch] = []
        self.writer: BatchWriter | None = None
        self.most_held = 0

    def __call__(self, batch: LogBatch) -> None:
        assert self.writer is not None
        self.most_held = max(self.most_held, self.writer.pending)
        assert self.open.wait(30), "the test never opened the sink"
        self.batches.append(batch)


def _logging_thread(log: object, count: int) -> tuple[threading.Thread, list[int]]:
    """Call ``log(i)`` for i in range(count) on a thread; the list holds how many calls returned."""
    returned = [0]

    def run() -> None:
        for i in range(count):
            log(i)  # type: ignore[operator]
            returned[0] = i + 1

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, returned


def _stops_at(returned: list[int], expected: int) -> int:
    """The count once it has reached ``expected`` and then had half a second to go past it."""
    deadline = time.monotonic() + 30
    while returned[0] < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    return returned[0]


@pytest.fixture
def gated() -> Iterator[GatedSink]:
    sink = GatedSink()
    yield sink
    sink.open.set()


def test_a_full_buffer_blocks_the_caller_until_a_write_makes_room(gated: GatedSink) -> None:
    writer = gated.writer = BatchWriter(gated, flush_interval=30, max_points=100)
    thread, returned = _logging_thread(lambda i: writer.metric(RUN, "loss", float(i), 0, i), 1000)
    # The store takes nothing: the caller stops at the bound, which counts the batch in flight.
    assert _stops_at(returned, 100) == 100
    assert writer.pending == 100 and thread.is_alive()
    gated.open.set()
    thread.join(30)
    assert returned[0] == 1000
    writer.close()
    steps = [m[4] for b in gated.batches for m in b.metrics]
    assert steps == list(range(1000))  # every point once, in order
    assert gated.most_held <= 100


def test_the_byte_bound_holds_for_long_params_and_tags(gated: GatedSink) -> None:
    value = "v" * 5000
    bound = 10 * entry_bytes("k0000", value)
    writer = gated.writer = BatchWriter(gated, flush_interval=30, max_bytes=bound)

    def log(i: int) -> None:
        (writer.tag if i % 2 else writer.param)(RUN, f"k{i:04d}", value)

    thread, returned = _logging_thread(log, 200)
    assert _stops_at(returned, 10) == 10  # stopped by bytes, far below the entry bound
    gated.open.set()
    thread.join(30)
    writer.close()
    assert sum(len(b) for b in gated.batches) == 200


def test_an_entry_bigger_than_the_byte_bound_waits_for_an_empty_buffer_then_goes_through() -> None:
    batches: list[LogBatch] = []
    writer = BatchWriter(batches.append, flush_interval=30, max_bytes=1000)
    writer.metric(RUN, "loss", 1.0, 0, 0)
    writer.tag(RUN, "note", "x" * 5000)  # alone it is over the bound: it may not wait for ever
    writer.close()
    assert [len(b) for b in batches] == [1, 1]


def test_a_caller_waiting_on_a_failing_store_gets_the_error_after_max_wait() -> None:
    def down(batch: LogBatch) -> None:
        raise StorageError("database is locked")

    writer = BatchWriter(down, flush_interval=0.05, max_points=10, max_wait=0.5)
    for i in range(10):
        writer.metric(RUN, "loss", float(i), 0, i)
    started = time.monotonic()
    with pytest.raises(StorageError, match="buffer is full.*database is locked"):
        writer.metric(RUN, "loss", 10.0, 0, 10)
    assert 0.4 <= time.monotonic() - started < 10
    assert writer.pending == 10  # what was taken is kept, nothing more
    writer._sink = lambda batch: None  # the store recovers: the kept points are written
    writer.close()
    assert writer.pending == 0


def test_a_full_buffer_spills_to_the_spool_when_the_server_is_down(tmp_path: Path) -> None:
    def down(batch: LogBatch) -> None:
        raise StorageError("server unreachable")

    spool = DiskSpool(tmp_path / "spool")
    writer = BatchWriter(down, flush_interval=30, spool=spool, max_points=50, max_wait=0)
    for i in range(1000):  # never refused, never waits for long: each full buffer goes to disk
        writer.metric(RUN, "loss", float(i), 0, i)
    writer.close()
    received: list[LogBatch] = []
    spool.drain(received.append)
    assert sorted(m[4] for b in received for m in b.metrics) == list(range(1000))


def test_a_closed_writer_with_a_full_buffer_writes_in_the_callers_thread() -> None:
    batches: list[LogBatch] = []
    writer = BatchWriter(batches.append, flush_interval=30, max_points=5)
    writer.close()
    for i in range(12):
        writer.metric(RUN, "loss", float(i), 0, i)
    writer.flush()
    assert [m[4] for b in batches for m in b.metrics] == list(range(12))


def test_the_bounds_come_from_the_environment_and_toml_and_reach_the_writer(tmp_path: Path) -> None:
    assert (Config().log_buffer_points, Config().log_buffer_bytes) == (20_000, 32 << 20)
    cfg = load_config(env={"SHIPYARD_LOG_BUFFER_POINTS": "500", "SHIPYARD_LOG_BUFFER_BYTES": "65536"})
    assert (cfg.log_buffer_points, cfg.log_buffer_bytes) == (500, 65536)
    toml = tmp_path / "shipyard.toml"
    toml.write_text("log_buffer_points = 700\nlog_buffer_bytes = 99999\n")
    cfg = load_config(env={"SHIPYARD_CONFIG": str(toml), "SHIPYARD_HOME": str(tmp_path)})
    assert (cfg.log_buffer_points, cfg.log_buffer_bytes) == (700, 99999)
    client = Client(cfg)
    assert (client.tracking.writer._max_points, client.tracking.writer._max_bytes) == (700, 99999)
    client.close()
    for bad in ("0", "-3", "many"):
        with pytest.raises(ConfigError, match="log_buffer_points"):
            load_config(env={"SHIPYARD_LOG_BUFFER_POINTS": bad})


# -- a real crash: eight processes logging as fast as they can, killed with SIGKILL ------------

BOUND = 2_000  # the buffer bound the crashing processes run with

UNPACED = """
    import os, sys, shipyard
    client = shipyard.Client()
    run_id, key, acked_path = sys.argv[1], sys.argv[2], sys.argv[3]
    fd = os.open(acked_path, os.O_WRONLY | os.O_CREAT)
    n = 0
    while True:
        client.log_metric(run_id, key, float(n), step=n)
        n += 1
        os.pwrite(fd, n.to_bytes(8, "little"), 0)  # acknowledged: log_metric returned
"""


def _acked(path: Path) -> int:
    data = path.read_bytes() if path.exists() else b""
    return int.from_bytes(data[:8], "little") if len(data) >= 8 else 0


@pytest.mark.slow  # starts eight worker processes
def test_a_crash_under_unpaced_logging_loses_at_most_the_buffer_bound(tmp_path: Path, db_url: str) -> None:
    config = Config(home=tmp_path / "home", db=db_url, flush_interval=0.2)
    client = Client(config)
    run = client.create_run("backpressure")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_HOME": str(config.home), "SHIPYARD_DB": db_url, "SHIPYARD_FLUSH_INTERVAL": "0.2",
            "SHIPYARD_LOG_BUFFER_POINTS": str(BOUND)}
    acked = [tmp_path / f"acked{i}" for i in range(8)]
    workers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(UNPACED), run.id, f"w{i}", str(acked[i])],
                                env=env) for i in range(8)]
    try:
        deadline = time.monotonic() + 60
        while min(_acked(p) for p in acked) < 2 * BOUND:  # every process is logging past the bound
            assert all(w.poll() is None for w in workers), "a logging process died"
            assert time.monotonic() < deadline, "the processes never got going"
            time.sleep(0.05)
        time.sleep(1.5)  # faster than the store can take it, for several flush intervals
    finally:
        for w in workers:
            w.kill()
        for w in workers:
            w.wait(30)
    client.close()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        stored = {key: (count, distinct, top) for key, count, distinct, top in conn.execute(sa.text(
            "SELECT key, count(*), count(DISTINCT step), max(step) FROM metrics WHERE run_id = :r GROUP BY key"
        ), {"r": run.id})}
    engine.dispose()
    for i, path in enumerate(acked):
        count, distinct, top = stored.get(f"w{i}", (0, 0, -1))
        assert count == distinct == top + 1  # what was stored is a prefix, each point once
        assert count >= _acked(path) - BOUND, f"process {i}: {_acked(path)} acknowledged, {count} stored"
