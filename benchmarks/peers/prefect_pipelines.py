"""Prefect 3's side of ``benchmarks/pipelines.py``; runs inside the Prefect peer venv.

    python prefect_pipelines.py chain  --steps 100 --repeat 3
    python prefect_pipelines.py fanout --steps 20 --seconds 1.0 --workers 2

Prefect runs at its defaults with its local ephemeral server (state in PREFECT_HOME,
which the caller points at a scratch folder). Prefect 3.8.8 needs the ``min_items``
shim in ``prefect_shim/sitecustomize.py`` on PYTHONPATH to start that server. The
last stdout line is a JSON object of seconds.

* chain: a flow calling ``inc`` 100 times, each on the previous result. Reported:
  the empty flow, the flow's wall time, and the time inside the flow body (what each
  task call costs the caller). Best of ``--repeat``; the first flow run (server start)
  is a warm-up and not counted.
* cached: the same chain with ``cache_policy=INPUTS + TASK_SOURCE`` and persisted
  results, run once to fill the cache, then timed.
* fanout: ``burn`` (``--seconds`` of busy CPU) submitted ``--steps`` times to a
  ``ProcessPoolTaskRunner`` with ``--workers`` processes (warmed up first).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("DO_NOT_TRACK", "1")

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import INPUTS, TASK_SOURCE  # noqa: E402
from prefect.task_runners import ProcessPoolTaskRunner  # noqa: E402

INNER: dict[str, float] = {}


@task
def inc(x: int) -> int:
    return x + 1


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def inc_cached(x: int) -> int:
    return x + 1


@task
def burn(seconds: float, tag: int) -> int:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return os.getpid()


@flow
def empty() -> None:
    return None


@flow
def chain(n: int, start: int, cached: bool = False) -> int:
    t0 = time.perf_counter()
    fn = inc_cached if cached else inc
    x = start
    for _ in range(n):
        x = fn(x)
    INNER["s"] = time.perf_counter() - t0
    return x


def timed(fn: Any, *args: Any) -> tuple[float, float]:
    INNER.clear()
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0, INNER.get("s", 0.0)


def run_chain(n: int, repeat: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    empty()  # starts the ephemeral server: not counted
    warmup = time.perf_counter() - t0
    empties = [timed(empty)[0] for _ in range(repeat)]
    chains = [timed(chain, n, 1000 * (i + 1)) for i in range(repeat)]
    timed(chain, n, 7, True)  # fills the cache
    cached = [timed(chain, n, 7, True) for _ in range(repeat)]
    best = min(chains)
    best_cached = min(cached)
    return {"warmup_s": warmup, "empty_s": min(empties), "chain_s": best[0], "chain_inner_s": best[1],
            "cached_s": best_cached[0], "cached_inner_s": best_cached[1],
            "all_chain_s": [c[0] for c in chains], "all_cached_s": [c[0] for c in cached]}


def run_fanout(n: int, seconds: float, workers: int) -> dict[str, Any]:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=workers))
    def fan(n: int, seconds: float) -> list[int]:
        futures = [burn.submit(seconds, i) for i in range(n)]
        return [f.result() for f in futures]

    fan(workers, 0.01)  # warm-up: the server and the worker processes
    t0 = time.perf_counter()
    pids = fan(n, seconds)
    return {"fanout_s": time.perf_counter() - t0, "processes": len(set(pids))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["chain", "fanout"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.mode == "chain":
        result = run_chain(args.steps, args.repeat)
    else:
        result = run_fanout(args.steps, args.seconds, args.workers)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
