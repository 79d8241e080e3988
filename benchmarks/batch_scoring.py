"""Batch scoring: Shipyard's ``batch_predict`` against a hand-written loop and plain Ray Data.

    .venv/bin/python benchmarks/batch_scoring.py [--rows 10000000] [--workers N] [--batch-rows 65536] [--rounds 3]
        [--no-ray]

One scikit-learn model (a HistGradientBoostingClassifier, 50 trees, on 8 float
features) scores one dataset version (Parquet files of 1,048,576 rows, one row group
each, as Shipyard registers a DataFrame), written a file at a time so memory stays
small whatever ``--rows``. Native thread pools are pinned to one thread per process
(``OMP_NUM_THREADS=1``) so that "per core" means one process. Contenders:

- ceiling: a pandas chunk loop in this process — ``iter_batches`` → ``to_pandas`` →
  ``predict`` → ``ParquetWriter``, no checks, no run, no registration;
- Shipyard local, 1 process and N processes (``batch_predict(workers=...)``);
- Shipyard on Ray: a loopback cluster of one node (head, 1 CPU), then with a second
  node (1 CPU) joined; rounds alternate the two, and each count runs twice in a new
  Ray job: first as ``shipyard predict`` pays it (the workers start, import and load
  the model), then warm;
- plain Ray Data on the same two nodes: ``read_parquet`` → ``map_batches`` (tasks of one
  CPU, fused with the read; the estimator passed in) → ``write_parquet``.

Shipyard's figure is its scoring phase (``result.seconds``: reading, row checks,
predicting, writing the parts, workers' start and model load), the same work as the
loop's; the end-to-end time (plus the run, the output's registration and lineage)
is printed beside it. Each contender runs ``--rounds`` times: a round measures the
ceiling, then Shipyard on 1 and N local processes, and each local ratio is taken
within its round (the machine's speed drifts by tens of percent within minutes);
the Ray ratio likewise between the two node counts of a round; the medians are
reported. Targets: Shipyard local within 10 % of the ceiling per core; ≥ 1.8× from
one Ray node to two. On a two-core machine the driver,
the Ray daemons and other tenants share the cores, so two processes lose a few
percent to each other whatever runs in them.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/sklearn load their thread pools
# Ray turns token authentication on by itself when ~/.ray/auth_token exists (another local cluster made
# it); this loopback cluster and its driver agree to go without.
os.environ["RAY_AUTH_MODE"] = "disabled"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

FEATURES = [f"f{i}" for i in range(8)]
ROW_GROUP = 1 << 20
HEAD_IP, WORKER_IP = "127.0.0.8", "127.0.0.9"


def write_input(folder: Path, rows: int) -> None:
    """``rows`` rows of 8 float features: one file per 1,048,576 rows (one row group each), so plain
    Ray Data, which reads a file per task, can spread the reading too."""
    rng = np.random.default_rng(0)
    schema = pa.schema([(name, pa.float64()) for name in FEATURES])
    folder.mkdir()
    for start in range(0, rows, ROW_GROUP):
        n = min(ROW_GROUP, rows - start)
        pq.write_table(pa.table({name: rng.normal(size=n) for name in FEATURES}, schema=schema),
                       folder / f"part-{start // ROW_GROUP:05d}.parquet", row_group_size=ROW_GROUP,
                       compression="zstd", write_statistics=True)


def train() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    import pandas as pd

    x = pd.DataFrame({name: rng.normal(size=20_000) for name in FEATURES})
    y = (x.f0 + x.f1 * x.f2 - x.f3 > 0).astype(int)
    return HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(x, y)


def ceiling(estimator: Any, source: Path, dest: Path, batch_rows: int) -> float:
    """The hand-written loop: rows/s on one process."""
    started = time.perf_counter()
    rows = 0
    writer = None
    for path in sorted(source.iterdir()):
        reader = pq.ParquetFile(path)
        for batch in reader.iter_batches(batch_size=batch_rows, use_threads=False):
            predicted = estimator.predict(batch.to_pandas())
            out = batch.append_column("prediction", pa.array(predicted))
            if writer is None:
                writer = pq.ParquetWriter(dest, out.schema, compression="zstd", write_statistics=True)
            writer.write_batch(out, row_group_size=batch_rows)
            rows += batch.num_rows
    assert writer is not None
    writer.close()
    return rows / (time.perf_counter() - started)


@contextlib.contextmanager
def ray_cluster() -> Iterator[Any]:
    """Two loopback nodes of 1 CPU each (``tests/ray_nodes.RayNodes``), this process the driver."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.ray_nodes import RayNodes

    nodes = RayNodes(HEAD_IP, WORKER_IP, object_store_bytes=300_000_000)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def _score(batch: pa.Table, model: Any) -> pa.Table:
    return batch.append_column("prediction", pa.array(model.predict(batch.to_pandas())))


def ray_data(estimator: Any, source: Path, dest: Path, batch_rows: int) -> float:
    """Plain Ray Data over the connected cluster (tasks of one CPU, read and score fused): rows/s."""
    import ray

    ray.data.DataContext.get_current().enable_progress_bars = False
    started = time.perf_counter()
    ray.data.read_parquet(str(source)).map_batches(_score, fn_args=(estimator,), batch_format="pyarrow",  # type: ignore[arg-type]
                                                   batch_size=batch_rows, num_cpus=1).write_parquet(str(dest))
    seconds = time.perf_counter() - started
    return pq.ParquetDataset(str(dest)).read(columns=["prediction"]).num_rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each contender (medians reported)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray contenders")
    args = parser.parse_args()
    # A plain SIGTERM (timeout, kill) would skip the clean-up that stops the Ray nodes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from shipyard import Client
    from shipyard.scoring import batch_predict

    n = args.workers
    loop, one, many = "ceiling (pandas loop, 1 proc)", "shipyard local, 1 proc", f"shipyard local, {n} procs"
    rows_per_s: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-scoring-") as tmp, Client(home=Path(tmp) / "home") as c:
        source = Path(tmp) / "input"
        print(f"writing {args.rows:,} rows …", flush=True)
        write_input(source, args.rows)
        estimator = train()
        run = c.create_run("bench")
        import pandas as pd

        c.log_model(run.id, estimator, input_example=pd.DataFrame({n: [0.0] for n in FEATURES}))
        c.end_run(run.id)
        uri = f"models:/bench/{c.register_model(f'runs:/{run.id}/model', 'bench').version}"
        version = c.register_dataset("bench-input", source)
        data = version.uri
        scored = 0

        def record(label: str, value: float, note: str = "") -> None:
            rows_per_s.setdefault(label, []).append(value)
            print(f"  {label:<28} {value:>12,.0f} rows/s{note}", flush=True)

        def shipyard(label: str, **kwargs: Any) -> None:
            nonlocal scored
            scored += 1
            started = time.perf_counter()
            result = batch_predict(uri, data, f"ds:scored-{scored}", batch_rows=args.batch_rows, client=c, **kwargs)
            wall = time.perf_counter() - started
            assert result.scored == args.rows, result
            record(label, result.rows_per_s, f"   (end to end {args.rows / wall:,.0f} rows/s, {wall:.1f} s)")

        # The machine's speed drifts by tens of percent within minutes, so each round measures
        # the ceiling next to the local contenders and the ratios are taken round by round.
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}:", flush=True)
            record(loop, ceiling(estimator, source, Path(tmp) / "loop.parquet", args.batch_rows))
            shipyard(one, workers=1)
            shipyard(many, workers=n)
        if not args.no_ray:
            with ray_cluster() as nodes:
                # Rounds alternate one node and two, so that each ratio is taken within its round. Each
                # count runs twice in a new Ray job: first with its workers starting (importing, loading
                # the model), as every `shipyard predict` pays, then again with them warm.
                for round_ in range(1, args.rounds + 1):
                    print(f"ray round {round_}:", flush=True)
                    for count in (1, 2):
                        if count == 1 and nodes.worker is not None:
                            nodes.stop_worker()
                        elif count == 2:
                            nodes.add_worker()
                        nodes.disconnect()
                        nodes.connect()
                        shipyard(f"shipyard ray, {count} node(s), new job", executor="ray")
                        shipyard(f"shipyard ray, {count} node(s), warm", executor="ray")
                record("plain ray data, 2 nodes", ray_data(estimator, source, Path(tmp) / "raydata", args.batch_rows))

    def ratios(label: str, per: int = 1, against: str = loop) -> str:
        values = [v / per / top for v, top in zip(rows_per_s[label], rows_per_s[against], strict=True)]
        return f"{statistics.median(values):.2f}  (rounds: {', '.join(f'{v:.2f}' for v in values)})"

    def median(label: str) -> float:
        return statistics.median(rows_per_s[label])

    print(f"\n{args.rows:,} rows, batches of {args.batch_rows:,}, {n} local workers, "
          f"{os.cpu_count()} cores on this machine; medians of {args.rounds} rounds")
    print(f"  shipyard local 1 proc / ceiling:            {ratios(one)}  target ≥ 0.90")
    print(f"  shipyard local {n} procs per core / ceiling:  {ratios(many, n)}  target ≥ 0.90")
    print(f"  shipyard local {n} procs / 1 proc:            {median(many) / median(one):.2f}")
    if not args.no_ray:
        for kind in ("new job", "warm"):
            print(f"  shipyard ray 2 nodes / 1 node, {kind + ':':<9}   "
                  f"{ratios(f'shipyard ray, 2 node(s), {kind}', against=f'shipyard ray, 1 node(s), {kind}')}"
                  "  target ≥ 1.8")
        print(f"  shipyard ray 2 nodes (warm) / plain ray data: "
              f"{median('shipyard ray, 2 node(s), warm') / median('plain ray data, 2 nodes'):.2f}")


if __name__ == "__main__":
    main()
