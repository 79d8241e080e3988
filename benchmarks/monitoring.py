"""Monitoring benchmark: Shipyard's drift report against Evidently 0.7.23, side by side in one run.

Workloads (data made once, written to Parquet on tmpfs, read by both sides):

* the full drift report on a reference and a current table of 1,000,000 rows x
  (20 numeric + 5 categorical) columns, 9 of them shifted (mean, spread or category
  mix), 16 unchanged. Shipyard: ``detect_drift`` (exact KS, Wasserstein, PSI and
  Jensen-Shannon on every numeric column, chi² and JS on every categorical one), then
  the report data (both sides' profiles and distributions). Evidently:
  ``Report([DataDriftPreset()]).run`` in its own venv. Each side runs in its own
  process: time, peak RSS (``ru_maxrss``) and the columns it flagged. Targets: at
  least 10x faster, the same verdicts, peak memory under half of Evidently's.
* incremental: a 30-day monitor of hourly windows (720 window profiles merged into
  one) gets one more hourly window of 100,000 rows: profile it against the stored
  reference profile, merge it into the month, recompute drift of the window and of
  the month against the reference. Target: under 1 s. (The 720 stored windows are
  made from ``--history-rows`` rows each: a window profile's size does not depend on
  its rows.)

    .venv/bin/python benchmarks/monitoring.py [--rows N] [--skip-peer]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import BENCH_DIR, PeerError, Row, peer_venv, print_table, run_in_venv, scratch_dir, step  # noqa: E402

EVIDENTLY_VENV, EVIDENTLY_REQUIREMENTS = "evidently-0.7.23", ["evidently==0.7.23", "pandas<3", "pyarrow"]
LETTERS = ["a", "b", "c", "d", "e", "f"]
# column -> how the current table differs from the reference (None: it does not).
SHIFTS: dict[str, str | None] = {
    "x0": "mean +0.5 sd", "x1": "mean +0.3 sd", "x2": "sd x1.5", "x3": "sd x0.6", "x4": "mean +0.2 sd",
    "x5": "lognormal, mean of log +0.3", "x6": "poisson(20) -> poisson(23)",
    **{f"x{i}": None for i in range(7, 20)},
    "c0": "mix 40/30/15/10/5 -> even", "c1": "a new category takes 10 %", "c2": None, "c3": None, "c4": None,
}


def make_tables(rows: int, folder: Path) -> tuple[Path, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(seed: int, shifted: bool) -> pa.Table:
        rng = np.random.default_rng(seed)
        s = shifted
        columns: dict[str, Any] = {
            "x0": rng.normal(0.5 if s else 0, 1, rows), "x1": rng.normal(10.3 if s else 10, 1, rows),
            "x2": rng.normal(0, 1.5 if s else 1, rows), "x3": rng.normal(5, 0.6 if s else 1, rows),
            "x4": rng.normal(100.2 if s else 100, 1, rows), "x5": rng.lognormal(0.3 if s else 0, 1, rows),
            "x6": rng.poisson(23 if s else 20, rows).astype(np.int64),
        }
        for i in range(7, 20):
            columns[f"x{i}"] = (rng.normal(i, 1 + i / 4, rows) if i % 3 else rng.exponential(i, rows))
        letters = np.array(LETTERS)
        even = [1 / 6] * 6
        mix = [0.4, 0.3, 0.15, 0.1, 0.04, 0.01]
        columns["c0"] = pa.array(letters[rng.choice(6, rows, p=even if s else mix)])
        c1 = letters[rng.choice(5, rows)].astype(object)
        if s:
            c1[rng.random(rows) < 0.1] = "new"
        columns["c1"] = pa.array(c1.astype(str))
        for i in range(2, 5):
            columns[f"c{i}"] = pa.array(letters[rng.choice(6, rows, p=mix)])
        return pa.table(columns)

    ref, cur = folder / "reference.parquet", folder / "current.parquet"
    pq.write_table(table(1, False), ref)
    pq.write_table(table(2, True), cur)
    return ref, cur


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def ours(ref_path: str, cur_path: str) -> dict[str, Any]:
    """Shipyard's side, in its own process."""
    import pandas as pd

    reference, current = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    import scipy.stats  # noqa: F401 - import time is not the report's (Evidently's imports are not timed either)

    from shipyard.monitoring import ReportData, detect_drift, render_html

    loaded = _rss()
    started = time.perf_counter()
    report = detect_drift(reference, current)
    drift_seconds = time.perf_counter() - started
    data = ReportData.from_drift(report, reference, current, title="benchmark")
    html = render_html(data)
    full_seconds = time.perf_counter() - started
    return {"seconds": drift_seconds, "full_seconds": full_seconds, "peak_rss": _peak(), "loaded_rss": loaded,
            "drifted": sorted(report.drifted_columns), "share": report.drift_share, "html_bytes": len(html),
            "tests": {c.column: c.test for c in report.columns.values()}}


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def incremental(ref_path: str, windows: int, history_rows: int, window_rows: int) -> dict[str, Any]:
    """A 30-day monitor of hourly windows gets one more window, in its own process."""
    import numpy as np
    import pandas as pd

    from shipyard.monitoring import WindowProfile, detect_drift

    reference = pd.read_parquet(ref_path)
    started = time.perf_counter()
    ref_profile = WindowProfile.of(reference)
    reference_seconds = time.perf_counter() - started
    del reference
    current = pd.read_parquet(ref_path.replace("reference", "current"))
    rng = np.random.default_rng(0)
    history = []
    started = time.perf_counter()
    for _ in range(windows):
        rows = current.iloc[rng.integers(0, len(current) - history_rows):][:history_rows]
        history.append(WindowProfile.of(rows, reference=ref_profile))
    history_seconds = time.perf_counter() - started
    started = time.perf_counter()
    month = WindowProfile.merge_all(history)
    merge_all_seconds = time.perf_counter() - started
    detect_drift(ref_profile, month)  # warm: imports, first calls
    timings = []
    for attempt in range(3):
        start_row = (attempt * window_rows) % max(len(current) - window_rows, 1)
        window = current.iloc[start_row:start_row + window_rows]
        started = time.perf_counter()
        hour = WindowProfile.of(window, reference=ref_profile)
        month_now = month.merge(hour)
        hour_report = detect_drift(ref_profile, hour)
        month_report = detect_drift(ref_profile, month_now)
        timings.append(time.perf_counter() - started)
    return {"first": timings[0], "best": min(timings), "reference_profile_seconds": reference_seconds,
            "history_seconds": history_seconds, "merge_all_seconds": merge_all_seconds,
            "hour_drifted": sorted(hour_report.drifted_columns), "month_drifted": sorted(month_report.drifted_columns),
            "profile_json_bytes": len(json.dumps(month_now.to_json())), "peak_rss": _peak()}


def _self(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} side failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--windows", type=int, default=720)
    parser.add_argument("--history-rows", type=int, default=5_000)
    parser.add_argument("--window-rows", type=int, default=100_000)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "ours":
        print(json.dumps(ours(*args.paths)))
        return
    if args.side == "incremental":
        print(json.dumps(incremental(args.paths[0], args.windows, args.history_rows, args.window_rows)))
        return

    shifted = sorted(c for c, how in SHIFTS.items() if how)
    with scratch_dir("shipyard-monitoring-") as folder:
        with step(f"making reference and current tables of {args.rows:,} rows x 25 columns"):
            ref, cur = make_tables(args.rows, folder)
        with step("Shipyard: drift report"):
            mine = _self("--side", "ours", str(ref), str(cur))
        theirs: dict[str, Any] | None = None
        if not args.skip_peer:
            try:
                venv = peer_venv(EVIDENTLY_VENV, EVIDENTLY_REQUIREMENTS)
                with step("Evidently 0.7.23: DataDriftPreset"):
                    theirs = run_in_venv(venv, BENCH_DIR / "peers" / "evidently_drift.py", [str(ref), str(cur)],
                                         timeout=1800)
            except PeerError as exc:
                print(f"Evidently unavailable: {exc}", file=sys.stderr)
        with step(f"Shipyard: incremental hourly window ({args.windows} stored windows)"):
            inc = _self("--side", "incremental", "--windows", str(args.windows), "--history-rows",
                        str(args.history_rows), "--window-rows", str(args.window_rows), str(ref))

    peer_seconds = theirs["seconds"] if theirs else None
    rows = [
        Row(f"drift report, {args.rows:,} rows x 25 columns", mine["seconds"], peer_seconds, min_ratio=10),
        Row("  + report data (profiles, distributions) and HTML", mine["full_seconds"], peer_seconds),
        Row(f"one more hourly window ({args.window_rows:,} rows) in a {args.windows}-window monitor, first",
            inc["first"], None, max_seconds=1.0),
        Row("  the same, best of 3", inc["best"], None, max_seconds=1.0),
    ]
    print_table(rows, peer="Evidently 0.7.23", title="Monitoring: Shipyard vs Evidently 0.7.23")
    print(f"peak RSS: Shipyard {_mb(mine['peak_rss'])} (data loaded: {_mb(mine['loaded_rss'])}), "
          f"Evidently {_mb(theirs['peak_rss']) if theirs else '-'}"
          + (f" (data loaded: {_mb(theirs['loaded_rss'])})" if theirs else "")
          + (f"; ratio {theirs['peak_rss'] / mine['peak_rss']:.1f}x" if theirs else ""))
    print(f"shifted columns:     {shifted}")
    print(f"Shipyard flagged:    {mine['drifted']} (share {mine['share']:.2f})")
    if theirs:
        print(f"Evidently flagged:   {theirs['drifted']} (share {theirs['share']:.2f})")
        print(f"same verdicts: {mine['drifted'] == theirs['drifted']}; "
              f"both equal the shifted set: {mine['drifted'] == theirs['drifted'] == shifted}")
    print(f"tests used: {sorted(set(mine['tests'].values()))}; HTML report {mine['html_bytes']:,} bytes")
    print(f"incremental: reference profile {inc['reference_profile_seconds']:.2f} s; {args.windows} stored windows "
          f"profiled in {inc['history_seconds']:.1f} s, merged at once in {inc['merge_all_seconds']:.2f} s; "
          f"month profile {inc['profile_json_bytes']:,} bytes of JSON; flagged in the hour {inc['hour_drifted']}, "
          f"in the month {inc['month_drifted']}")


if __name__ == "__main__":
    main()
