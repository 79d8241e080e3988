"""Datasets benchmark: Shipyard against DVC 3.67 and pandera 0.35, side by side in one run.

Workloads (all data on tmpfs, made identically for both sides by ``datasets_common.py``):

* register and profile a 5,000,000-row x 30-column Parquet file (845 MB): the whole
  registration (hash, store, profile) and the profile alone. Target: profile < 10 s.
* register a folder of 20,000 files of 512 bytes, then a new version with 10 files
  changed (three rounds, the fastest counts); DVC does ``add`` + ``push`` to a
  local remote for each (its Python API in-process, so no process start-up is
  counted on either side). Target: the new version >= 10x faster than DVC's.
* validate 1,000,000 rows x 10 columns against a 30-rule contract (types, nulls,
  ranges, allowed values, a regex, uniqueness, a row bound, a custom check) that
  the data breaks in 38 rows; pandera validates the same pandas DataFrame against
  the same rules with ``lazy=True``. Target: at least as fast as pandera.

    .venv/bin/python benchmarks/datasets.py [--skip-peer] [--rows N] [--files N] [--validate-rows N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import (  # noqa: E402
    BENCH_DIR,
    PeerError,
    Row,
    best_of,
    peer_venv,
    print_table,
    run_in_venv,
    scratch_dir,
    step,
)
from datasets_common import change_files, make_folder, make_validation_table  # noqa: E402

DVC_VENV, DVC_REQUIREMENTS = "dvc-3.67", ["dvc==3.67.1"]
PANDERA_VENV, PANDERA_REQUIREMENTS = "pandera-0.35", ["pandera[pandas]==0.35.0", "pyarrow"]
CONTRACT = """
columns:
  id: {type: int, nullable: false, unique: true}
  age: {type: int, nullable: false, min: 18, max: 120}
  income: {type: float, min: 0}
  plan: {type: string, nullable: false, allowed: [basic, pro, team, enterprise]}
  email: {type: string, nullable: false, pattern: '[^@]+@[^@]+\\.[a-z]+'}
  score: {type: float, nullable: false, min: 0, max: 1}
  country: {type: string, nullable: false, allowed: [de, fr, us, jp]}
  signup: {type: timestamp, nullable: false, min: '2024-01-01'}
  clicks: {type: int, min: 0}
  churned: {type: bool}
rows: {min: 1000}
checks:
  - {name: income_cap, expr: "income IS NULL OR income < 5e7"}
"""


def make_wide_parquet(path: Path, rows: int) -> None:
    """``rows`` x 30 columns: 18 float, 6 int, 4 categorical strings, 1 bool, 1 timestamp."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {}
    for i in range(18):
        values = rng.normal(i, 1 + i, rows)
        columns[f"f{i}"] = pa.array(values, mask=rng.random(rows) < 0.01) if i == 0 else values
    for i in range(6):
        columns[f"i{i}"] = rng.integers(0, 10 ** (i + 1), rows)
    plans = np.array(["basic", "plus", "pro", "enterprise", "trial", "free", "student", "family"])
    for i in range(4):
        columns[f"c{i}"] = pa.array(plans[rng.integers(0, 8, rows)])
    columns["b0"] = rng.random(rows) < 0.3
    columns["t0"] = np.datetime64("2024-01-01") + rng.integers(0, 10**6, rows).astype("timedelta64[s]")
    pq.write_table(pa.table(columns), path)


def profile_side(work: Path, rows: int) -> dict[str, float]:
    import pyarrow.parquet as pq

    import shipyard
    from shipyard.datasets._profiling import profile_parquet

    table = work / "wide.parquet"
    make_wide_parquet(table, rows)
    meta = pq.ParquetFile(table)
    profile_s = best_of(2, lambda: profile_parquet([table], meta.schema_arrow, meta.metadata.num_rows))
    with shipyard.Client(home=work / "sy-profile") as client:
        start = time.perf_counter()
        version = client.register_dataset("wide", table, progress=False)
        register_s = time.perf_counter() - start
    assert version.num_rows == rows and version.profile is not None and len(version.profile.columns) == 30
    return {"profile_s": profile_s, "register_s": register_s, "mb": table.stat().st_size / 1e6}


def folder_side(work: Path, files: int, changed: list[int], rounds: int) -> dict[str, Any]:
    import shipyard

    data = work / "sy" / "data"
    make_folder(data, files)
    shutil.copytree(data, work / "dvc" / "data")
    with shipyard.Client(home=work / "sy-home") as client:
        start = time.perf_counter()
        client.register_dataset("folder", data, progress=False)
        first = time.perf_counter() - start
        times = []
        for round_ in range(rounds):
            change_files(data, [i + round_ for i in changed])
            start = time.perf_counter()
            version = client.register_dataset("folder", data, progress=False)
            times.append(time.perf_counter() - start)
    assert version.version == rounds + 1 and version.num_files == files
    change_files(data, [i + rounds for i in changed])
    cli = str(Path(sys.executable).with_name("shipyard"))
    env = {**os.environ, "SHIPYARD_HOME": str(work / "sy-home")}
    start = time.perf_counter()
    subprocess.run([cli, "data", "add", "folder", str(data), "--no-progress"], env=env, check=True,
                   capture_output=True)
    cli_s = time.perf_counter() - start
    return {"v1_s": first, "v2_s": min(times), "v2_rounds_s": times, "v2_cli_s": cli_s}


def validate_side(work: Path, rows: int) -> dict[str, Any]:
    import pandas as pd
    import pyarrow.parquet as pq

    from shipyard.datasets import Contract, validate

    path = work / "validate.parquet"
    make_validation_table(rows, path)
    contract = Contract.from_yaml(CONTRACT)
    frame, table = pd.read_parquet(path), pq.read_table(path)
    report = validate(frame, contract)
    return {"path": path, "rules": contract.rule_count, "failing_rows": sum(v.count for v in report.violations),
            "pandas_s": best_of(3, lambda: validate(frame, contract)),
            "arrow_s": best_of(3, lambda: validate(table, contract))}


def run_peer(name: str, requirements: list[str], script: str, args: list[str]) -> dict[str, Any]:
    try:
        venv = peer_venv(name, requirements)
        env = {"PYTHONPATH": str(BENCH_DIR)}
        return run_in_venv(venv, BENCH_DIR / "peers" / script, args, timeout=1800, env=env)
    except PeerError as exc:
        print(exc, file=sys.stderr)
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="new versions made; the fastest counts")
    parser.add_argument("--validate-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    changed = list(range(0, args.files, max(args.files // args.changed, 1)))[: args.changed]
    with scratch_dir("sy-datasets-") as work:
        with step(f"Shipyard: folder of {args.files:,} files"):
            folder = folder_side(work, args.files, changed, args.rounds)
        dvc: dict[str, Any] = {}
        if not args.skip_peer:
            with step(f"DVC 3.67: add + push, {args.rounds + 1} times"):
                (work / "remote").mkdir()
                dvc = run_peer(DVC_VENV, DVC_REQUIREMENTS, "dvc_folder.py",
                               [str(work / "dvc"), str(work / "remote"), "--change", ",".join(map(str, changed)),
                                "--rounds", str(args.rounds)])
        with step(f"Shipyard: profile {args.rows:,} x 30"):
            prof = profile_side(work, args.rows)
        (work / "wide.parquet").unlink()
        with step(f"Shipyard: validate {args.validate_rows:,} rows"):
            val = validate_side(work, args.validate_rows)
        pandera: dict[str, Any] = {}
        if not args.skip_peer:
            with step("pandera 0.35: validate"):
                pandera = run_peer(PANDERA_VENV, PANDERA_REQUIREMENTS, "pandera_validate.py", [str(val["path"])])
    print(f"profiled {prof['mb']:.0f} MB; the contract has {val['rules']} rules and {val['failing_rows']} "
          f"failing rows (pandera: {pandera.get('failure_cases', '-')} failure cases)")
    print("new-version rounds, s: Shipyard " + " ".join(f"{t:.2f}" for t in folder["v2_rounds_s"])
          + "; DVC " + " ".join(f"{t:.2f}" for t in dvc.get("v2_rounds_s", [])))
    rows = [
        Row(f"profile {args.rows:,} x 30 Parquet", prof["profile_s"], None, max_seconds=10),
        Row("register it (hash, store, profile)", prof["register_s"], None),
        Row(f"folder v1: {args.files:,} files (DVC add+push)", folder["v1_s"], dvc.get("v1_s")),
        Row(f"new version, {args.changed} files changed (DVC add+push)", folder["v2_s"], dvc.get("v2_s"),
            min_ratio=10),
        Row("the same via `shipyard data add` (process start)", folder["v2_cli_s"], dvc.get("v2_s")),
    ]
    print_table(rows, peer="DVC 3.67", title="Dataset versions")
    checks = [
        Row(f"validate {args.validate_rows:,} rows, 30 rules (pandas in)", val["pandas_s"],
            pandera.get("validate_s"), min_ratio=1),
        Row("same, from an Arrow table", val["arrow_s"], pandera.get("validate_s")),
    ]
    print_table(checks, peer="pandera 0.35", title="Validation")
    return 0 if all(r.passed is not False for r in rows + checks) else 1


if __name__ == "__main__":
    sys.exit(main())
