"""Demo stage: continuous training takes over — a policy notices the drift, retrains and rolls out.

A second model, trained on the first regime of a drifting stream
(:class:`~shipyard.testing.closed_loop.DriftingStream`), is served by ``shipyard serve``
following ``@production`` and the traffic split. Traffic flows at a steady rate and each
label comes back 100 requests late. The monitor computes windows of a few seconds; the
policy (YAML written to the demo's folder) starts a run when accuracy stays below a bar
for three windows. An in-process :class:`~shipyard.automation.Controller` ticks it through
retraining (the pipeline of :mod:`.ct_pipeline` on the newest labelled traffic),
evaluation against the champion, shadow, canary and promotion. Then a second version of
the policy, whose pipeline trains on shuffled labels, is asked for a retrain by hand:
it is stopped (rejected at evaluation, or rolled back in the canary) and the champion
keeps serving. Windows, rates and sizes are small so the whole stage takes about a minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax

import shipyard
from shipyard.cli.demo.context import DemoState
from shipyard.cli.demo.ct_traffic import Traffic
from shipyard.cli.demo.serving import free_port, start_process
from shipyard.cli.output import console, table

__all__ = ["continuous_training", "policy"]

RATE = 100.0  # requests a second: what two busy cores serve with room for the controller
LABEL_DELAY = 100  # a label arrives this many requests after its prediction (one second)
DRIFT_AFTER = 600  # requests of the first regime before the world changes
WINDOW_S = 3  # monitor window: short, so two bad windows come a few seconds after the drift
RUN_TIMEOUT_S = 150.0  # per automation run: generous, for a loaded machine
TICK_S = 0.3


@dataclass(frozen=True)
class Names:
    """What the stage creates, each named after the demo's stamp."""

    model: str
    monitor: str
    policy: str
    training: str
    labelled: str

    @classmethod
    def of(cls, stamp: str) -> Names:
        return cls(model=f"demo-ct-{stamp}", monitor=f"demo-ct-{stamp}", policy=f"demo-ct-{stamp}",
                   training=f"demo-ct-train-{stamp}", labelled=f"demo-ct-labelled-{stamp}")


def policy(names: Names, training: str, *, shuffle_labels: bool = False) -> dict[str, Any]:
    """The policy as its YAML mapping: accuracy below 0.75 in three windows (or a person) retrains on the
    newest labelled traffic; a paired bootstrap against the champion; shadow, canary at 50% until
    200 of the challenger's answers are labelled; promotion. ``shuffle_labels`` breaks the retrain,
    and that version triggers only by hand. Waiting three windows and taking the newest 500 rows
    keeps the training rows after the drift even when a busy machine slows the traffic."""
    monitor = {"type": "monitor", "monitor": names.monitor, "series": "accuracy", "below": 0.75, "for_windows": 3}
    return {
        "name": names.policy, "model": names.model,
        "triggers": [{"type": "manual"}] if shuffle_labels else [monitor, {"type": "manual"}],
        "retrain": {"pipeline": "retrain_demo",
                    "params": {"model": names.model, "training_data": training, "recent_rows": 500, "min_rows": 200,
                               "shuffle_labels": shuffle_labels},
                    "labelled_data": {"dataset": names.labelled, "since": "20s", "monitor": names.monitor,
                                      "min_rows": 200}},
        "evaluation": {"metrics": ["accuracy"], "test": "paired_bootstrap", "min_improvement": 0.0, "alpha": 0.05},
        "rollout": {"shadow": {"requests": 200},
                    "canary": {"percent": 50, "duration": "60s", "labelled_requests": 200},
                    "sequential": {"alpha": 0.05, "power": 0.8, "min_effect": 0.05}},
        "guards": {"cooldown": "1s" if shuffle_labels else "5m", "max_retrains_per_day": 100,
                   "training_budget": "5m", "require_approval": False},
    }


def _champion(state: DemoState, names: Names, stream: Any) -> tuple[str, int]:
    """Regime-1 training data and the pipeline run once on it (which records where the controller
    finds it); its model is ``@production``."""
    from shipyard.cli.demo.ct_pipeline import retrain_demo
    from shipyard.pipelines._loader import load_pipeline

    client = state.client
    dataset = client.register_dataset(names.training, stream.regime_sample(1, 2000, seed=5))
    training = f"{names.training}@{dataset.version}"
    pipeline = load_pipeline(f"{retrain_demo.fn.__module__}:{retrain_demo.name}")
    done = pipeline.run({"model": names.model, "training_data": training}, client=client, executor="inline")
    client.set_alias(names.model, "production", int(done.output), reason="first champion")
    return training, int(done.output)


def _apply(state: DemoState, body: dict[str, Any], file: str) -> None:
    path = state.workdir / file
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    applied = state.client.automation.apply_policy(path)
    console.print(f"applied {path.name}: policy {body['name']} version {applied.policy.version} "
                  f"(as `{state.command} automation apply {path.name}` does)")


def _serve(state: DemoState, names: Names) -> tuple[Any, str]:
    """``shipyard serve`` of ``@production``, following the alias and the traffic split every 0.5 s."""
    config = {"inference_log": {"flush_interval_s": 1.0},
              "models": {names.model: {"uri": f"models:/{names.model}@production", "poll_interval_s": 0.5}}}
    path = state.workdir / "ct-serve.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_process(["serve", str(path), "--port", str(port), "--no-access-log"],
                           f"{url}/v2/health/ready", token=state.token)
    return server, url


class _Driver:
    """Ticks the monitor and the controller while traffic flows, showing each move."""

    def __init__(self, state: DemoState, names: Names, traffic: Traffic, progress: Progress, task: Any) -> None:
        from shipyard.automation import Controller

        self.state, self.names, self.traffic = state, names, traffic
        self.progress, self.task = progress, task
        # No notifiers: the moves are printed here, between the progress bar's updates.
        self.controller = Controller(state.client, holder=f"demo-{state.stamp}", lease_ttl_s=10.0,
                                     executor="inline", notifiers={})
        self._monitored = 0.0
        self._began = time.monotonic()

    def until_finished(self, run_id: str | None, what: str) -> Any:
        """Tick until the run ``run_id`` (None: the policy's first run, once it starts) has ended."""
        client = self.state.client
        deadline = time.monotonic() + RUN_TIMEOUT_S
        run = None
        while time.monotonic() < deadline:
            # The monitor matters only until a run starts (the rollout reads the inference log
            # itself): skipping it then leaves the controller the machine.
            if (run is None or run.finished) and time.monotonic() - self._monitored >= 1.0:
                client.run_monitors(names=[self.names.monitor])
                self._monitored = time.monotonic()
            for move in self.controller.tick():
                at = time.monotonic() - self._began
                self.progress.console.print(f"  {at:5.1f}s  [cyan]{move.from_state or 'new'} → {move.to_state}"
                                            f"[/cyan]  {escape((move.reason or '')[:100])}")
            runs = client.automation.list_runs(self.names.policy)
            run = next((r for r in runs if r.id == run_id), None) if run_id else (runs[-1] if runs else None)
            self.progress.update(self.task, completed=self.traffic.sent,
                                 description=f"{what}: {run.state if run else 'watching'}")
            if run is not None and run.finished:
                return run
            time.sleep(TICK_S)
        raise shipyard.ShipyardError(f"{what}: no automation run of {self.names.policy} ended within "
                                     f"{RUN_TIMEOUT_S:.0f} s")

    def serve_more(self, requests: int, what: str) -> None:
        """Let ``requests`` more requests be served, ticking nothing."""
        until = self.traffic.sent + requests
        while self.traffic.sent < until:
            self.progress.update(self.task, completed=self.traffic.sent, description=what)
            time.sleep(TICK_S)

    def close(self) -> None:
        """Wait for a retrain still running, then give up the controller's leases."""
        self.controller.wait(30)
        self.controller.close()


def continuous_training(state: DemoState) -> None:
    """Champion, monitor, policy, served traffic; the controller retrains and promotes, then stops a
    broken challenger. The model server is left in ``state.background`` (whoever runs the demo
    stops it)."""
    from shipyard.testing.closed_loop import DriftingStream

    client, names = state.client, Names.of(state.stamp)
    began = time.perf_counter()
    stream = DriftingStream(n=int(RATE * 600), seed=7, drift_at=DRIFT_AFTER / (RATE * 600))
    frame = stream.frame()
    training, champion = _champion(state, names, stream)
    console.print(f"{names.model}/{champion} trained on {training} by the pipeline retrain_demo: @production")
    client.create_monitor(f"{names.model}@production", window=f"{WINDOW_S}s", name=names.monitor,
                          task="classification", label_column="label", delay_s=1.0, label_horizon_s=10)
    body = policy(names, training)
    console.print(Syntax(yaml.safe_dump(body, sort_keys=False), "yaml", theme="ansi_dark", background_color="default"))
    _apply(state, body, "ct-policy.yaml")
    server, url = _serve(state, names)
    state.background.append(server)
    state.served.update(ct_url=url, ct_uri=f"{names.model}@production")
    console.print(f"serving models:/{names.model}@production on {url}; {RATE:.0f} requests/s, labels "
                  f"{LABEL_DELAY} requests late; the world changes after {DRIFT_AFTER} requests")
    traffic = Traffic(url, frame, rate=RATE, label_delay=LABEL_DELAY, token=state.token)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} requests"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("watching", total=None)
        driver = _Driver(state, names, traffic, progress, task)
        traffic.start()
        try:
            first = driver.until_finished(None, "drift → retrain")
            driver.serve_more(int(3 * RATE), "the new champion serving")
            broken = policy(names, training, shuffle_labels=True)
            progress.console.print("a second policy version: the pipeline trains on shuffled labels")
            _apply(state, broken, "ct-policy-broken.yaml")
            asked = client.automation.request_run(names.policy, reason="demo: a broken retrain")
            second = driver.until_finished(asked.id, "broken retrain")
            driver.serve_more(int(2 * RATE), "the champion still serving")
        finally:
            driver.close()
            traffic.stop()
    _report(state, names, traffic, champion, first, second, time.perf_counter() - began)


def _report(state: DemoState, names: Names, traffic: Traffic, champion: int, first: Any, second: Any,
            seconds: float) -> None:
    """The runs, accuracy before and after, requests served and failed; logged as a run's metrics."""
    index = np.arange(len(traffic.labels))
    sent_ms = traffic.sent_at * 1000
    challenger = int(first.evidence.get("challenger_version", 0) or 0)
    before, n_before = traffic.accuracy(index < DRIFT_AFTER)
    stale, n_stale = traffic.accuracy((index >= DRIFT_AFTER) & (traffic.version == champion))
    after, n_after = traffic.accuracy((traffic.version == challenger) & (sent_ms > (first.ended_at or 0)))
    production = state.client.get_model_version_by_alias(names.model, "production").version
    console.print(table(f"Automation runs of {names.policy}", ["run", "end state", "challenger", "reason"], [
        [r.id[:12], r.state, r.evidence.get("challenger_version", "-"), (r.reason or "")[:90]]
        for r in (first, second)]))
    console.print(table("Served accuracy", ["served", "version", "requests", "accuracy"], [
        ["before the drift", champion, n_before, f"{before:.3f}"],
        ["after the drift, old champion", champion, n_stale, f"{stale:.3f}"],
        ["after promotion", challenger or "-", n_after, f"{after:.3f}"]]))
    console.print(f"{traffic.answered()} requests served, {traffic.failed} failed; @production is version "
                  f"{production}; stage took {seconds:.0f} s")
    for error in traffic.errors[:3]:
        console.print(f"[red]{error}[/red]")
    metrics = {"requests_served": traffic.answered(), "failed_requests": traffic.failed,
               "accuracy_before_drift": before, "accuracy_after_drift": stale, "accuracy_after_promotion": after,
               "production_version": production, "seconds": seconds}
    with shipyard.start_run(state.experiment, tags={"demo": "continuous-training", "policy": names.policy,
                                                    "runs": f"{first.state},{second.state}"}, client=state.client):
        shipyard.log_metrics({k: float(v) for k, v in metrics.items() if v == v})  # NaN: nothing to measure
    state.summary += [
        ("served accuracy", f"{before:.3f} before the drift → {stale:.3f} after it → {after:.3f} once retrained"),
        ("requests", f"{traffic.answered()} served by the loop, {traffic.failed} failed"),
        ("automation runs", f"{first.state} (version {challenger}), {second.state} (shuffled labels); "
                            f"@production: version {production}")]
