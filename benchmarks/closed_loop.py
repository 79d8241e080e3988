"""Closed-loop benchmark: how much accuracy continuous training saves when the concept drifts.

A champion trained on regime 1 serves a seeded stream of ``--requests`` events spread
over ``--days`` simulated days; at ``--drift-at`` (a share of the stream) the relation
between features and label changes and one input shifts. Everything is real processes
on one home: ``shipyard serve`` (the model at ``@production``, following the traffic
split), ``shipyard scheduler`` (runs the monitor) and ``shipyard automation run`` (the
controller); a traffic driver sends one request per event from many threads at
``--rate`` requests a second and stores each label ``--label-delay-hours`` simulated
hours later through the monitoring label API (``client.monitoring.log_labels``).

**Simulated time.** Events carry simulated timestamps, evenly spaced; serving, the monitor
and the controller run on the wall clock. At a steady rate, one wall second is
``days * 86400 * rate / requests`` simulated seconds; the benchmark maps each wall time
back to the event being sent then (from the driver's per-request record), so delays are
reported in both clocks. The monitor's window is ``--window`` wall seconds.

Measured:

* delay from drift onset to detection (the automation run starting) and to promotion, in
  simulated hours, wall seconds and monitor windows;
* accuracy regret — the area (accuracy x days) by which the served accuracy lies below the
  better of the two regime models (one trained on each regime directly), per simulated
  hour — for Shipyard's loop (live), for never retraining and for blind daily retraining
  on the last day of labelled data (both replayed offline on the same stream);
* failed requests, in all and within 10 s of every traffic switch (canary start,
  promotion or rollback).

Targets: Shipyard's regret at most a third of never retraining's, and below blind daily
retraining's; zero failed requests; detection within two monitor windows.

    .venv/bin/python benchmarks/closed_loop.py [--requests 200000] [--days 4] [--rate 150] [--save run.pkl]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import scratch_dir, step  # noqa: E402

from shipyard.testing.closed_loop import (  # noqa: E402
    FEATURES,
    DriftingStream,
    regret,
    replay_retraining,
    train_model,
)
from shipyard.testing.closed_loop_traffic import TrafficDriver  # noqa: E402
from shipyard.testing.closed_loop_world import (  # noqa: E402
    LoopSettings,
    Processes,
    StoreLabels,
    apply_policy,
    prepare_home,
    runs_of,
)

DAY = 86_400.0


def _event_at(order_times: np.ndarray, order_events: np.ndarray, wall: float) -> int:
    """The event being sent at wall time ``wall`` (the last one sent before it)."""
    i = int(np.searchsorted(order_times, wall, side="right")) - 1
    return int(order_events[max(i, 0)])


def _settings(args: argparse.Namespace) -> LoopSettings:
    # The labelled window the retrain reads: what arrived in the last few windows; its newest
    # rows (about `train_s` wall seconds of traffic) train the challenger.
    # Segments flushed every few seconds, not every second: a monitor window reads each one.
    return LoopSettings(window_s=args.window, monitor_delay_s=args.flush + 1.0, log_flush_s=args.flush,
                        accuracy_below=0.75, for_windows=1,
                        labelled_since_s=3 * args.window, recent_rows=int(args.rate * args.train_s),
                        min_rows=200, canary_percent=50.0, canary_labelled=300, canary_duration_s=120,
                        min_effect=0.05, controller_interval_s=0.5, serve_poll_s=0.5, extra_triggers=(),
                        cooldown_s=10 * args.window)


def run(args: argparse.Namespace) -> dict[str, Any]:
    stream = DriftingStream(n=args.requests, seed=args.seed, days=args.days, drift_at=args.drift_at)
    frame = stream.frame()
    label_delay = int(round(args.label_delay_hours * 3600 / stream.seconds_per_event))
    settings = _settings(args)
    with scratch_dir("shipyard-closed-loop-") as tmp:
        home = Path(tmp) / "home"
        with step("champion: regime-1 data, the pipeline run once, @production"):
            prepare_home(home, stream)
            apply_policy(home, settings)
        with Processes(home, settings) as procs:
            with step("serve, scheduler and controller started"):
                procs.serve()
                procs.scheduler()
                procs.controller()
                procs.wait_ready()
            labels = StoreLabels(home)  # the monitoring label API
            traffic = TrafficDriver(procs.url, frame, threads=args.threads, rate=args.rate, label_delay=label_delay,
                                    post_labels=labels)
            with step(f"{args.requests:,} requests at up to {args.rate:g}/s, labels {label_delay:,} events late"):
                started = time.time()
                traffic.run()
                wall = time.time() - started
            labels.close()
            time.sleep(2 * args.window)  # let a run still in flight reach its end
        runs = list(reversed(runs_of(home)))  # oldest first
    return {"records": traffic.records(), "sent_at": traffic.sent_at, "status": traffic.status,
            "failed": traffic.failed, "label_failures": traffic.label_failures, "runs": runs, "wall": wall,
            "label_delay": label_delay}


def report(args: argparse.Namespace, result: dict[str, Any]) -> int:
    stream = DriftingStream(n=args.requests, seed=args.seed, days=args.days, drift_at=args.drift_at)
    frame, runs = stream.frame(), result["runs"]
    records = result["records"].sort_values("sent_at")
    order_times, order_events = records["sent_at"].to_numpy(), records["event"].to_numpy()
    times = frame["event_time"].to_numpy()
    sim_per_wall = stream.seconds_per_event * len(records) / max(result["wall"], 1e-9)
    sent_at, status = result["sent_at"], result["status"]
    drift_wall = float(sent_at[stream.drift_index])

    champion = train_model(stream.regime_sample(1, 3000, 5))  # what prepare_home trained: version 1
    second = train_model(stream.regime_sample(2, 3000, 13))
    labels = frame["label"].to_numpy()
    references = [(m.predict(frame[list(FEATURES)]) == labels).astype(float) for m in (champion, second)]
    served = np.full(len(frame), np.nan)
    served[records["event"].to_numpy()] = records["correct"].to_numpy()
    delay_s = result["label_delay"] * stream.seconds_per_event
    never = replay_retraining(frame, champion, every_s=None, window_s=DAY, label_delay_s=delay_s)
    daily = replay_retraining(frame, champion, every_s=DAY, window_s=DAY, label_delay_s=delay_s)
    bucket = 3600.0
    regrets = {"Shipyard loop": regret(times, served, references, bucket),
               "never retrain": regret(times, never.astype(float), references, bucket),
               "blind daily retrain": regret(times, daily.astype(float), references, bucket)}

    print(f"\nstream: {len(frame):,} events over {args.days:g} simulated days, drift at day "
          f"{(stream.drift_time - stream.start) / DAY:.2f}; sent in {result['wall']:.0f} s wall "
          f"({len(records) / result['wall']:.0f} req/s): 1 wall s = {sim_per_wall / 60:.1f} simulated min; "
          f"monitor window {args.window} s wall = {args.window * sim_per_wall / 3600:.2f} simulated h; "
          f"label delay {args.label_delay_hours:g} simulated h ({result['label_delay']:,} events)")
    switches: list[tuple[str, float]] = []
    detection = promotion = None
    for run in runs:
        ev = run.evidence
        print(f"run {run.id}: {run.state} ({run.reason or '-'}), challenger {ev.get('challenger_version')}")
        if detection is None and run.started_at / 1000 >= drift_wall:
            detection = run.started_at / 1000
        if "canary_started_at" in ev:
            switches.append((f"canary of run {run.id[:8]}", float(ev["canary_started_at"])))
        if run.ended_at is not None and run.state in ("promoted", "rolled_back"):
            switches.append((f"{run.state} run {run.id[:8]}", run.ended_at / 1000))
            if run.state == "promoted" and promotion is None:
                promotion = run.ended_at / 1000
    early = [r for r in runs if r.started_at / 1000 < drift_wall]
    print(f"runs before the drift (false alarms): {len(early)}")

    def delay(wall: float | None) -> str:
        if wall is None:
            return "never"
        sim = times[_event_at(order_times, order_events, wall)] - stream.drift_time
        waited = wall - drift_wall
        return f"{sim / 3600:.1f} sim h = {waited:.0f} s wall = {waited / args.window:.1f} windows"

    failed_at = sent_at[(status != 200) & ~np.isnan(sent_at)]
    rows = [["drift -> detection (run starts)", delay(detection), "<= 2 windows",
             _verdict(detection is not None and (detection - drift_wall) <= 2 * args.window)],
            ["drift -> promotion", delay(promotion), "-", "-"]]
    for label, value in regrets.items():
        rows.append([f"accuracy regret: {label}", f"{value:.3f} accuracy-days", "-", "-"])
    ours, never_r, daily_r = regrets["Shipyard loop"], regrets["never retrain"], regrets["blind daily retrain"]
    rows.append(["regret ratio: loop / never", f"{ours / never_r:.3f}", "<= 0.333", _verdict(ours <= never_r / 3)])
    rows.append(["regret ratio: loop / blind daily", f"{ours / daily_r:.3f}", "< 1", _verdict(ours < daily_r)])
    failed = result["failed"]
    rows.append(["failed requests (all)", f"{failed} of {len(records):,}", "0", _verdict(failed == 0)])
    for label, at in switches:
        near = int(np.sum(np.abs(failed_at - at) <= 10))
        rows.append([f"failed within 10 s of {label}", str(near), "0", _verdict(near == 0)])
    rows.append(["label posts failed", str(result["label_failures"]), "0", _verdict(result["label_failures"] == 0)])
    _print(rows)
    return 0 if all(r[3] != "FAIL" for r in rows) else 1


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _print(rows: list[list[str]]) -> None:
    header = ["measure", "value", "target", "result"]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for line in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--days", type=float, default=4.0, help="simulated days the stream spans")
    parser.add_argument("--drift-at", type=float, default=0.45, help="share of the stream before the drift")
    parser.add_argument("--rate", type=float, default=150.0, help="requests per wall second (at most)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--window", type=int, default=15, help="monitor window, wall seconds")
    parser.add_argument("--flush", type=float, default=4.0, help="inference log flush interval, wall seconds")
    parser.add_argument("--train-s", type=float, default=5.0,
                        help="wall seconds of the newest labelled traffic a retrain trains on")
    parser.add_argument("--label-delay-hours", type=float, default=0.5, help="simulated hours until a label")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--save", type=Path, help="keep what the run measured in this file (pickle)")
    parser.add_argument("--load", type=Path, help="report on a saved run instead of running (same arguments)")
    args = parser.parse_args(argv)
    if args.load is not None:
        result = pickle.loads(args.load.read_bytes())
    else:
        result = run(args)
        if args.save is not None:
            args.save.write_bytes(pickle.dumps(result))
    return report(args, result)


if __name__ == "__main__":
    raise SystemExit(main())
