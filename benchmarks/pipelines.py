"""Pipelines benchmark: Shipyard against Prefect 3, side by side in one run.

Workloads (the same shapes on both sides):

* chain: 100 trivial steps, each fed by the previous one (``x + 1``). Two per-step
  overheads are compared with Prefect's time per task call inside its flow body (its
  task runs are recorded by its server in the background, so that is the least a
  task costs it):
  - inside the run: from the start of the run until the last step's output is stored;
  - counting recording: (the whole run until it returns - an empty pipeline run) / steps.
    A Shipyard run returns once everything is durably recorded: a tracked child run
    per step with its params, metrics, tags and output as an artifact, the pipeline
    run's step states, the cache index (the recorder writes a batch of finished steps
    with one ``record_runs`` call, one metadata transaction).
  Steps in worker processes (the default) and steps marked ``inline=True``.
* cached: the same 100 steps again with the same inputs (every step a cache hit).
* fan-out: 20 steps of 1 s of busy CPU. Speed-up = the sum of the steps' own
  durations / wall time, against the ideal min(20, CPUs available): on the local
  executor (processes) and on a two-node Ray cluster started here (``ray start
  --head`` and ``ray start --address``, one CPU each, on loopback addresses). Prefect
  runs it on its ``ProcessPoolTaskRunner`` with as many processes.

Targets: per-step overhead >= 5x lower than Prefect's; the fully cached run under
1 s; fan-out speed-up within 15% of ideal. Workers (local processes, Ray workers,
Prefect's server and process pool) are warmed up before timing on both sides.

Prefect 3.8.8 (the newest that installs here) goes into its own venv
(``benchmarks/.venvs/prefect-3.8.8``) and needs ``peers/prefect_shim`` on PYTHONPATH
to start its local server (FastAPI's ``min_items`` rename); state lives on tmpfs.

    .venv/bin/python benchmarks/pipelines.py [--skip-peer] [--skip-ray] [--steps 100] [--fanout 20]
                                             [--repeat 7] [--peer-repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import (  # noqa: E402
    BENCH_DIR,
    PeerError,
    Row,
    fmt_seconds,
    free_port,
    peer_venv,
    print_table,
    run_in_venv,
    scratch_dir,
    step,
)

from shipyard import Client, Config  # noqa: E402
from shipyard.pipelines import LocalExecutor, Pipeline  # noqa: E402
from shipyard.pipelines import step as sy_step

PREFECT_VENV = "prefect-3.8.8"
PREFECT_REQUIREMENTS = ["prefect==3.8.8"]
PEER_SCRIPT = BENCH_DIR / "peers" / "prefect_pipelines.py"
SHIM = BENCH_DIR / "peers" / "prefect_shim"


@sy_step
def inc(x: int) -> int:
    return x + 1


@sy_step(inline=True)
def inc_inline(x: int) -> int:
    return x + 1


@sy_step
def burn(seconds: float, tag: int) -> int:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return os.getpid()


def chain_pipeline(n: int, fn: Any, name: str) -> Pipeline:
    def build(start: int = 0):  # type: ignore[no-untyped-def]
        x = start
        for _ in range(n):
            x = fn(x)
        return x

    build.__name__ = name
    return Pipeline(build, name=name)


def fan_pipeline() -> Pipeline:
    def fan(n: int = 20, seconds: float = 1.0):  # type: ignore[no-untyped-def]
        return [burn(seconds, i) for i in range(n)]

    return Pipeline(fan, name="fanout")


def empty_pipeline() -> Pipeline:
    def empty():  # type: ignore[no-untyped-def]
        return None

    return Pipeline(empty, name="empty")


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# --- Shipyard side -------------------------------------------------------------------


def ours_chain(work: Path, n: int, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    client = Client(Config(home=work / "sy", flush_interval=1.0))
    empty = empty_pipeline()
    with LocalExecutor(2) as ex:
        chain_pipeline(3, inc, "warm").run(client=client, executor=ex)  # schema, workers, imports
        out["empty_s"] = min(timed(lambda: empty.run(client=client, executor=ex))[0] for _ in range(repeat))
        for label, fn in (("process", inc), ("inline", inc_inline)):
            pipe = chain_pipeline(n, fn, f"chain_{label}")
            runs = []
            for i in range(repeat):
                seconds, result = timed(lambda i=i, pipe=pipe: pipe.run({"start": 1000 * (i + 1)}, client=client,
                                                                        executor=ex))
                assert result.output == 1000 * (i + 1) + n and len(result.computed) == n
                runs.append((seconds, result.duration_s))
            best = min(runs)
            out[f"{label}_s"], out[f"{label}_execution_s"] = best
            if label == "inline":
                cached = [timed(lambda pipe=pipe: pipe.run({"start": 1000}, client=client, executor=ex))
                          for _ in range(repeat)]
                assert all(len(r.cached) == n for _, r in cached)
                out["cached_s"] = min(s for s, _ in cached)
                # The same work untracked (an artifact store, no client): what recording adds.
                untracked = [timed(lambda i=i, pipe=pipe: pipe.run({"start": 7 + 1000 * (i + 1)}, executor=ex,
                                                                   artifacts=str(work / "untracked")))[0]
                             for i in range(repeat)]
                out["inline_untracked_s"] = min(untracked)
                out["empty_untracked_s"] = min(
                    timed(lambda: empty.run(executor=ex, artifacts=str(work / "untracked")))[0] for _ in range(repeat))
        # Check the records really are there before trusting the clock.
        last = client.search_runs("chain_inline", filter="tags.`shipyard.kind` = 'step'", max_results=5000)
        out["step_runs_recorded"] = len(last.items)
    client.close()
    return out


def ours_fanout(work: Path, n: int, seconds: float, executor: Any) -> dict[str, Any]:
    client = Client(Config(home=work / "fan", flush_interval=1.0))
    pipe = fan_pipeline()
    pipe.run({"n": 2, "seconds": 0.01}, client=client, executor=executor, cache=False)  # warm the workers
    wall, result = timed(lambda: pipe.run({"n": n, "seconds": seconds}, client=client, executor=executor,
                                          cache=False))
    busy = sum(s.result.duration_s for s in result.steps.values())  # type: ignore[union-attr]
    hosts = {s.result.host for s in result.steps.values()}  # type: ignore[union-attr]
    client.close()
    return {"wall_s": wall, "busy_s": busy, "speedup": busy / wall, "hosts": len(hosts)}


class RayCluster:
    """Two one-CPU Ray nodes on loopback addresses (Ray rewrites 127.0.0.1, not 127.0.0.2)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.temp = tempfile.mkdtemp(prefix="sy-ray-", dir="/tmp")
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
                    "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), *sys.path[1:]])}
        ray = str(Path(sys.executable).with_name("ray"))
        common = ["--block", "--num-cpus=1", "--object-store-memory=200000000", "--disable-usage-stats"]
        self.procs = [subprocess.Popen([ray, "start", *common, "--node-ip-address=127.0.0.2", "--head",
                                        f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp}"],
                                       env=self.env, start_new_session=True, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)]
        import ray as ray_module

        deadline = time.monotonic() + 120
        while True:
            try:
                ray_module.init(address=f"127.0.0.2:{self.port}", _node_ip_address="127.0.0.2",
                                logging_level="ERROR", log_to_driver=False)
                break
            except (ConnectionError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.procs.append(subprocess.Popen([ray, "start", *common, "--node-ip-address=127.0.0.3",
                                            f"--address=127.0.0.2:{self.port}"], env=self.env,
                                           start_new_session=True, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        while len([x for x in ray_module.nodes() if x["Alive"]]) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the second Ray node did not join")
            time.sleep(0.2)

    def stop(self) -> None:
        import ray as ray_module

        ray_module.shutdown()
        for proc in reversed(self.procs):
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=wait)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue


# --- Prefect side --------------------------------------------------------------------


def prefect(venv: Path, work: Path, *args: str) -> dict[str, Any]:
    home = work / "prefect"
    home.mkdir(exist_ok=True)
    # A loaded 2-core machine can take longer than Prefect's default 20 s to start its server.
    env = {"PREFECT_HOME": str(home), "PYTHONPATH": str(SHIM), "PREFECT_LOGGING_LEVEL": "ERROR",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    return run_in_venv(venv, PEER_SCRIPT, list(args), timeout=900, env=env)


# --- main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Shipyard vs Prefect 3: pipelines.")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7, help="Shipyard runs per shape (best counts)")
    parser.add_argument("--peer-repeat", type=int, default=3, help="Prefect runs per shape (seconds each)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    results: dict[str, Any] = {"cpus": cpus}
    errors: list[str] = []
    with scratch_dir("sy-pipelines-") as work:
        with step(f"Shipyard: {args.steps}-step chain (processes, inline, cached)"):
            results["ours"] = ours_chain(work, args.steps, args.repeat)
        with step(f"Shipyard: fan-out of {args.fanout} x 1 s on the local executor ({cpus} processes)"), \
                LocalExecutor(cpus) as ex:
            results["ours_local_fanout"] = ours_fanout(work, args.fanout, 1.0, ex)
        if not args.skip_ray:
            try:
                with step("Ray: starting a two-node cluster (head + worker, 1 CPU each)"):
                    cluster = RayCluster()
                try:
                    with step(f"Shipyard: fan-out of {args.fanout} x 1 s on Ray (2 nodes)"):
                        results["ours_ray_fanout"] = ours_fanout(work, args.fanout, 1.0, "ray")
                finally:
                    cluster.stop()
            except Exception as exc:  # report, keep the rest
                errors.append(f"ray: {exc!r}")
        if not args.skip_peer:
            try:
                with step(f"Prefect venv ({' '.join(PREFECT_REQUIREMENTS)})"):
                    venv = peer_venv(PREFECT_VENV, PREFECT_REQUIREMENTS)
                with step(f"Prefect: {args.steps}-task chain, empty flow, cached chain"):
                    results["prefect"] = prefect(venv, work, "chain", "--steps", str(args.steps),
                                                 "--repeat", str(args.peer_repeat))
                with step(f"Prefect: fan-out of {args.fanout} x 1 s on ProcessPoolTaskRunner({cpus})"):
                    results["prefect_fanout"] = prefect(venv, work, "fanout", "--steps", str(args.fanout),
                                                        "--workers", str(cpus))
            except PeerError as exc:
                errors.append(f"prefect: {exc}")
    report(results, args.steps, args.fanout, cpus)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if errors else 0


def report(results: dict[str, Any], n: int, fanout: int, cpus: int) -> None:
    ours, peer = results["ours"], results.get("prefect")

    inner = peer["chain_inner_s"] / n if peer else None
    rows = [
        Row(f"{n} trivial steps: per step inside the run, steps in processes",
            ours["process_execution_s"] / n, inner, min_ratio=5),
        Row(f"{n} trivial steps: per step inside the run, steps inline",
            ours["inline_execution_s"] / n, inner, min_ratio=5),
        Row(f"{n} trivial steps: per step counting recording, steps in processes",
            (ours["process_s"] - ours["empty_s"]) / n, inner, min_ratio=5),
        Row(f"{n} trivial steps: per step counting recording, steps inline",
            (ours["inline_s"] - ours["empty_s"]) / n, inner, min_ratio=5),
        Row(f"{n} trivial steps: whole run until recorded, in processes", ours["process_s"],
            peer["chain_s"] if peer else None),
        Row(f"{n} trivial steps: whole run until recorded, inline", ours["inline_s"],
            peer["chain_s"] if peer else None),
        Row("empty pipeline run", ours["empty_s"], peer["empty_s"] if peer else None),
        Row(f"{n} steps fully cached: whole run", ours["cached_s"], peer["cached_s"] if peer else None,
            max_seconds=1.0),
    ]
    print_table(rows, peer="Prefect 3.8.8", title=f"Pipelines: Shipyard vs Prefect ({cpus} CPUs)")
    ideal = min(fanout, cpus)
    lines = [("local executor", results.get("ours_local_fanout")),
             ("Ray, 2 nodes x 1 CPU", results.get("ours_ray_fanout"))]
    print(f"\nFan-out: {fanout} steps x 1 s busy CPU; ideal speed-up {ideal:.1f}x; target >= {0.85 * ideal:.2f}x")
    for label, r in lines:
        if r:
            verdict = "PASS" if r["speedup"] >= 0.85 * ideal else "FAIL"
            print(f"  Shipyard, {label:<22} wall {fmt_seconds(r['wall_s']):>8}  speed-up {r['speedup']:.2f}x "
                  f"({r['speedup'] / ideal:.0%} of ideal, {r['hosts']} workers)  {verdict}")
    pf = results.get("prefect_fanout")
    if pf:
        speed = fanout * 1.0 / pf["fanout_s"]
        print(f"  Prefect, ProcessPoolTaskRunner({cpus})    wall {fmt_seconds(pf['fanout_s']):>8}  speed-up "
              f"{speed:.2f}x ({speed / ideal:.0%} of ideal)")
    durable = (ours["inline_s"] - ours["empty_s"]) / n
    recording = ((ours["inline_s"] - ours["empty_s"]) - (ours["inline_untracked_s"] - ours["empty_untracked_s"])) / n
    print(f"\nShipyard, durably recorded: {fmt_seconds(durable)} per step ((whole inline run - empty run) / {n}): "
          f"a tracked child run per step, its output as an artifact, the cache index; "
          f"{ours['step_runs_recorded']} step runs checked after timing. Of that, recording: "
          f"{fmt_seconds(max(recording, 0.0))} per step (the same, less the untracked run's (run - empty run) / {n}).")
    if peer:
        print(f"Prefect: per step inside the flow {fmt_seconds(inner)}; every chain run (s): "
              f"{[round(x, 2) for x in peer['all_chain_s']]}, empty flow {peer['empty_s']:.2f} s "
              "(its wall time is mostly a fixed cost, so (run - empty) / steps means nothing for it).")


if __name__ == "__main__":
    sys.exit(main())
