"""Monitor runs benchmark: the cost of one more hourly window on a month-old monitor.

A monitor of a served model with 20 numeric and 5 categorical inputs has 30 days of
hourly windows stored (720 windows, their profiles and series). The inference log's
folder for today already holds ``--day-hours`` hours of segments (100,000 rows an
hour, 50,000-row segments as serving writes them), and one more hour of 100,000
rows arrives, half of it labelled. Measured:

* ``run_monitor`` computing that window: read its segments from the log, profile
  25 inputs and the predictions on the reference's bins, drift against the stored
  reference profile, data quality, latency, errors, realised and estimated
  performance with the labels joined, commit. Target (issue 7): under 1 s.
* the late-label pass: labels for 100,000 rows of an earlier window arrive; the next
  run finds the window and recomputes its performance;
* ``log_labels`` of 100,000 labels;
* the 7-day and 30-day reports: stored window profiles merged and compared once.

There is no peer: no other tool here computes monitor windows incrementally
(Evidently recomputes a whole report from raw data; ``benchmarks/monitoring.py``
compares drift with it).

    .venv/bin/python benchmarks/monitor_run.py [--rows 100000] [--day-hours 23]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import Row, print_table, scratch_dir, step  # noqa: E402

import shipyard  # noqa: E402
from shipyard.alerting._series import Point  # noqa: E402
from shipyard.monitoring._entities import MonitorWindow  # noqa: E402
from shipyard.serving._inference_log import RunSink  # noqa: E402

H = 3_600_000
NUMERIC = [f"x{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
LEVELS = np.array(["a", "b", "c", "d", "e", "f", "g", "h"])


def features(n: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {name: rng.normal(shift if i < 5 else 0.0, 1.0, n) for i, name in enumerate(NUMERIC)}
    for name in CATEGORICAL:
        out[name] = LEVELS[rng.integers(0, len(LEVELS), n)]
    return out


def log_hour(start_ms: int, n: int, seed: int, prefix: str) -> pd.DataFrame:
    data = features(n, seed, shift=0.3)
    rng = np.random.default_rng(seed + 1)
    p = 1 / (1 + np.exp(-data["x0"]))
    frame = pd.DataFrame({
        "request_id": [f"{prefix}-{i}" for i in range(n)],
        "timestamp": pd.to_datetime(start_ms + np.sort(rng.integers(0, H, n)), unit="ms", utc=True),
        "model": "churn", "version": "3", "route": "production",
        "latency_ms": rng.gamma(2.0, 3.0, n), "status": np.full(n, 200, dtype=np.int16), "error": [None] * n,
        "row": np.zeros(n, dtype=np.int32),
        **{f"in_{k}": v for k, v in data.items()},
        "prediction": (p > 0.5).astype(np.int64),
    })
    frame["probabilities"] = pa.array(list(np.column_stack([1 - p, p])), type=pa.list_(pa.float64())).to_pylist()
    return frame


def write_log(client: shipyard.Client, sink: RunSink, frame: pd.DataFrame, day: str, seq: list[int]) -> None:
    for start in range(0, len(frame), 50_000):
        buffer = io.BytesIO()
        frame.iloc[start:start + 50_000].to_parquet(buffer, index=False, compression="zstd")
        seq[0] += 1
        sink.write("churn", f"inference/{day}/w1-{seq[0]:06d}.parquet", buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per hourly window")
    parser.add_argument("--day-hours", type=int, default=23, help="hours of segments already in today's folder")
    parser.add_argument("--repeat", type=int, default=3, help="identical monitors measured; the best counts")
    args = parser.parse_args()
    rows = args.rows
    with scratch_dir("shipyard-monitor-bench-") as root, shipyard.Client(home=root / "home") as client:
        yesterday = int(time.time() * 1000) - 24 * H  # a whole day that is over, so labels arrive after it
        day_start = yesterday - yesterday % (24 * H)
        target = day_start + args.day_hours * H  # the new window
        day = time.strftime("%Y-%m-%d", time.gmtime(target / 1000))
        with step("reference dataset (1,000,000 rows)"):
            client.register_dataset("train", pd.DataFrame({**features(1_000_000, 0), "y": np.zeros(1_000_000, int)}))
        sink = RunSink(client, run_name="bench")
        seq = [0]
        with step(f"the day's log: {args.day_hours} earlier hours of {rows:,} rows"):
            for h in range(args.day_hours):
                write_log(client, sink, log_hour(day_start + h * H, rows, 100 + h, f"h{h}"), day, seq)
        names = [f"m{i}" for i in range(args.repeat)] + ["memory"]  # the last one: heap peak, untimed
        with step(f"{args.repeat} monitors with 30 days of stored windows (one real window's results, copied)"):
            probe = client.create_monitor("churn@production", name="probe", reference="ds:train@1", window="1h",
                                          label_column="y", start=day_start, delay_s=0)
            client.run_monitor(probe.name, now=day_start + H)
            [window] = client.list_monitor_windows(probe.name, profiles=True)
            points = client.query_series(probe.name)
            client.delete_monitor(probe.name)
            for name in names:
                monitor = client.create_monitor("churn@production", name=name, reference="ds:train@1", window="1h",
                                                label_column="y", start=target - 720 * H, delay_s=0)
                windows, stored = [], []
                for i in range(720):
                    start = target - (720 - i) * H
                    windows.append(MonitorWindow(name, start, start + H, window.rows, "ok", "3", None,
                                                 window.profile, window.prediction_profile))
                    stored += [Point(name, p.series, start, start + H, p.value, p.labels) for p in points]
                client.monitor_store.commit(name, expect=(monitor.cursor, None), windows=windows, points=stored,
                                            cursor=target, label_watermark=target)
        new_hour = log_hour(target, rows, 999, "new")
        write_log(client, sink, new_hour, day, seq)
        client.log_labels(pd.DataFrame({"request_id": new_hour["request_id"][: rows // 2],
                                        "label": new_hour["prediction"][: rows // 2]}), model="churn")
        profiler = None
        if os.environ.get("SHIPYARD_BENCH_PROFILE"):  # a cProfile dump of the measured runs, to look into
            import cProfile

            profiler = cProfile.Profile()
        one_window: list[float] = []
        cpu: list[float] = []
        for name in names[:-1]:
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            run = client.run_monitor(name, now=target + H)
            one_window.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            if profiler is not None:
                profiler.disable()
            assert run.error is None and [w.rows for w in run.windows] == [rows], run
        tracemalloc.start()  # Python allocations only (Arrow buffers are not traced); slows the run 2-3x
        client.run_monitor(names[-1], now=target + H)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if profiler is not None:
            profiler.dump_stats(os.environ["SHIPYARD_BENCH_PROFILE"])
        earlier = log_hour(target - H, rows, 1234, "late")  # an hour already computed, labelled late
        write_log(client, sink, earlier, day, seq)
        started = time.perf_counter()
        client.log_labels(pd.DataFrame({"request_id": earlier["request_id"], "label": earlier["prediction"]}),
                          model="churn")
        labels_time = time.perf_counter() - started
        relabel = []
        for name in names[:-1]:
            started = time.perf_counter()
            if profiler is not None:
                profiler = cProfile.Profile()
                profiler.enable()
            late = client.run_monitor(name, now=target + 2 * H)
            relabel.append(time.perf_counter() - started)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(os.environ["SHIPYARD_BENCH_PROFILE"] + ".late")
            assert target - H in late.relabelled, late
        started = time.perf_counter()
        week = client.monitor_report(names[0], since="7d", until=target + 2 * H)
        week_time = time.perf_counter() - started
        started = time.perf_counter()
        client.monitor_report(names[0], since="30d", until=target + 2 * H)
        month_time = time.perf_counter() - started
        drift = {f.name: f.drifted for f in week.features}
    print(f"\nnew window: {rows:,} rows, accuracy {run.latest.get('accuracy')}, drift share "
          f"{run.latest.get('drift_share')}; Python heap peak during a run {peak / 1e6:.0f} MB")
    print("one more window, each monitor: " + ", ".join(f"{t:.2f} s" for t in one_window)
          + " (CPU time, all threads: " + ", ".join(f"{t:.2f} s" for t in cpu) + ")")
    print("late labels, each monitor: " + ", ".join(f"{t:.2f} s" for t in relabel))
    print(f"7-day report flags: {sorted(k for k, v in drift.items() if v)}")
    print_table([
        Row(f"one more hourly window of {rows:,} rows on a 30-day monitor (best of {len(one_window)})", min(one_window),
            None, max_seconds=1.0),
        Row(f"late labels for a computed window: the next run ({rows:,} rows relabelled, best of {len(relabel)})",
            min(relabel), None),
        Row(f"log_labels of {rows:,} labels", labels_time, None),
        Row("7-day report (168 stored windows merged)", week_time, None),
        Row("30-day report (720 stored windows merged)", month_time, None),
    ], peer="-", title="Monitor runs")


if __name__ == "__main__":
    main()
