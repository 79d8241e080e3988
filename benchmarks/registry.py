"""Registry benchmark: Shipyard against MLflow 3.17, side by side in one run.

Workloads (the same on both sides, embedded SQLite store on tmpfs):

* register 1,000 versions of one model from a run's logged package;
* resolve ``models:/x@production`` 10,000 times (per call; Shipyard's resolution cache
  is validated against the registry generation on every call);
* load a 50 MB scikit-learn package by alias (first load and best of 3).

Target: alias resolution >= 20x faster than MLflow's.

    .venv/bin/python benchmarks/registry.py [--skip-peer] [--versions N] [--resolves N] [--mb N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import (  # noqa: E402
    BENCH_DIR,
    PeerError,
    Row,
    peer_venv,
    print_table,
    run_in_venv,
    scratch_dir,
    step,
)

MLFLOW_VENV = "mlflow-3.17"
MLFLOW_REQUIREMENTS = ["mlflow==3.17.0"]
PEER_SCRIPT = BENCH_DIR / "peers" / "mlflow_registry.py"


def shipyard_side(work: Path, versions: int, resolves: int, mb: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import shipyard

    client = shipyard.Client(home=work / "sy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 20)), rng.integers(0, 2, 200)
    small = LogisticRegression().fit(x, y)
    big = LogisticRegression().fit(x, y)
    big.padding_ = rng.random(mb * 1024 * 1024 // 8)
    run = client.create_run("registry-bench")
    client.log_model(run.id, small, "small", input_example=x[:5])
    client.log_model(run.id, big, "big", input_example=x[:5])
    client.end_run(run.id)

    start = time.perf_counter()
    for _ in range(versions):
        client.register_model(f"runs:/{run.id}/small", "x")
    register_s = time.perf_counter() - start
    client.set_alias("x", "production", versions)

    for _ in range(50):
        client.resolve_model("models:/x@production")
    start = time.perf_counter()
    for _ in range(resolves):
        mv = client.resolve_model("models:/x@production")
    resolve_s = (time.perf_counter() - start) / resolves
    assert mv.version == versions

    client.register_model(f"runs:/{run.id}/big", "big")
    client.set_alias("big", "production", 1)
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        model = client.load_model("models:/big@production")
        loads.append(time.perf_counter() - start)
    assert model.predict(x[:3]).shape == (3,)
    client.close()
    return {"register_1000_s": register_s, "resolve_s": resolve_s,
            "load_first_s": loads[0], "load_best_s": min(loads)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--resolves", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args(argv)
    with scratch_dir("sy-registry-") as work, step("Shipyard"):
        ours = shipyard_side(work, args.versions, args.resolves, args.mb)
    peer: dict[str, Any] = {}
    if not args.skip_peer:
        try:
            venv = peer_venv(MLFLOW_VENV, MLFLOW_REQUIREMENTS)
            with scratch_dir("mlflow-registry-") as work, step("MLflow 3.17"):
                peer = run_in_venv(venv, PEER_SCRIPT, [str(work), "--versions", str(args.versions),
                                                       "--resolves", str(args.resolves), "--mb", str(args.mb)],
                                   timeout=3600)
        except PeerError as exc:
            print(exc, file=sys.stderr)
    rows = [
        Row(f"register {args.versions} versions", ours["register_1000_s"], peer.get("register_1000_s")),
        Row("resolve models:/x@production (per call)", ours["resolve_s"], peer.get("resolve_s"), min_ratio=20),
        Row(f"load {args.mb} MB package by alias, first", ours["load_first_s"], peer.get("load_first_s")),
        Row(f"load {args.mb} MB package by alias, best of 3", ours["load_best_s"], peer.get("load_best_s")),
    ]
    print_table(rows, peer="MLflow 3.17", title="Model registry")
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
