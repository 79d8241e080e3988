"""Evidently's side of ``benchmarks/monitoring.py``: the data-drift preset on two Parquet tables.

    python evidently_drift.py REFERENCE.parquet CURRENT.parquet

Loads both tables into pandas (not timed), runs ``Report([DataDriftPreset()])`` on
them (timed), and reads each column's verdict off its ``ValueDrift`` metric: a
p-value method drifts below its threshold, a distance at or above it. Prints one
JSON object as its last stdout line: seconds, peak RSS and RSS once the data is
loaded (bytes), and the drifted columns.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import pandas as pd

warnings.filterwarnings("ignore")


def main() -> None:
    reference = pd.read_parquet(sys.argv[1])
    current = pd.read_parquet(sys.argv[2])
    from evidently import Report
    from evidently.presets import DataDriftPreset

    with open("/proc/self/statm") as f:
        loaded = int(f.read().split()[1]) * resource.getpagesize()

    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    seconds = time.perf_counter() - started
    drifted, methods, share = [], {}, None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(config["threshold"])
            p_value = "p_value" in config["method"]
            methods[config["column"]] = config["method"]
            if (value < threshold) if p_value else (value >= threshold):
                drifted.append(config["column"])
        elif config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "loaded_rss": loaded, "drifted": sorted(drifted),
                      "share": share, "methods": methods}))


if __name__ == "__main__":
    main()
