"""The world a closed-loop scenario runs in: a home with a champion, a policy, and real processes.

* :class:`LoopSettings` — the scenario's knobs: monitor window, trigger threshold, labelled
  window, canary, how often the controller and serving look;
* :func:`prepare_home` — a Shipyard home holding regime-1 training data, the retraining
  pipeline run once (its version 1 is the champion, ``@production``);
  :func:`apply_policy` adds the monitor and the automation policy that watches it;
* :class:`Processes` — ``shipyard serve``, ``shipyard scheduler`` (it runs the monitors)
  and ``shipyard automation run`` as real subprocesses on that home, each logging to a
  file, stopped (or SIGKILLed) on request;
* :func:`runs_of` and :func:`wait_for_run` — the automation runs, read from the store.

>>> LoopSettings().policy_yaml()["model"]
'closed-loop'
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.testing.closed_loop import DriftingStream
from shipyard.testing.closed_loop_pipeline import MODEL, retrain_closed_loop

__all__ = ["MONITOR", "POLICY", "LoopSettings", "Processes", "StoreLabels", "apply_policy", "prepare_home",
           "runs_of", "wait_for_run"]

#: The monitor watching the served model, and the policy that retrains it.
MONITOR = "closed-loop-monitor"
POLICY = "closed-loop-retrain"


@dataclass(frozen=True)
class LoopSettings:
    """The scenario's settings (wall-clock seconds). Accuracy below ``accuracy_below`` in
    ``for_windows`` monitor windows of ``window_s`` triggers a retrain on the newest
    ``recent_rows`` labelled rows of the last ``labelled_since_s``; the challenger takes
    ``canary_percent`` of the traffic until ``canary_labelled`` of its answers are labelled
    (or ``canary_duration_s`` passes). ``flip_labels`` breaks the retrain on purpose.
    ``cooldown_s`` keeps the windows served before a promotion, which the monitor computes
    after it, from starting another retrain at once. The monitor computes a window
    ``monitor_delay_s`` after it ends: more than ``log_flush_s``, so its rows are written;
    labels arriving later recompute windows of the last ``label_horizon_s`` (each such pass
    reads the log over the horizon, so a long one costs more the longer traffic runs)."""

    window_s: int = 4
    monitor_delay_s: float = 1.0
    accuracy_below: float = 0.75
    for_windows: int = 2
    labelled_since_s: int = 20
    recent_rows: int = 1500
    min_rows: int = 200
    canary_percent: float = 50.0
    canary_labelled: int = 200
    canary_duration_s: int = 120
    min_effect: float = 0.05
    flip_labels: bool = False
    cooldown_s: int = 300
    controller_interval_s: float = 0.5
    serve_poll_s: float = 0.5
    log_flush_s: float = 1.0
    label_horizon_s: int = 120
    extra_triggers: tuple[dict[str, Any], ...] = field(default=({"type": "manual"},))

    def policy_yaml(self) -> dict[str, Any]:
        """The automation policy (its YAML form as a mapping)."""
        return {
            "name": POLICY, "model": MODEL,
            "triggers": [{"type": "monitor", "monitor": MONITOR, "series": "accuracy", "below": self.accuracy_below,
                          "for_windows": self.for_windows}, *self.extra_triggers],
            "retrain": {"pipeline": retrain_closed_loop.name,
                        "params": {"recent_rows": self.recent_rows, "min_rows": self.min_rows,
                                   "flip_labels": self.flip_labels},
                        "labelled_data": {"dataset": "closed-loop-labelled", "since": f"{self.labelled_since_s}s",
                                          "monitor": MONITOR, "min_rows": self.min_rows}},
            "evaluation": {"metrics": ["accuracy"], "test": "paired_bootstrap", "min_improvement": 0.0,
                           "alpha": 0.05},
            "rollout": {"shadow": {"requests": 0},
                        "canary": {"percent": self.canary_percent, "duration": f"{self.canary_duration_s}s",
                                   "labelled_requests": self.canary_labelled},
                        "sequential": {"alpha": 0.05, "power": 0.8, "min_effect": self.min_effect}},
            "guards": {"cooldown": f"{self.cooldown_s}s", "max_retrains_per_day": 100, "training_budget": "5m",
                       "require_approval": False},
        }


def prepare_home(home: Path, stream: DriftingStream, *, rows: int = 3000, seed: int = 5) -> None:
    """Regime-1 training data (dataset ``closed-loop-train``), the retraining pipeline run once
    on it, and its model (version 1 of :data:`MODEL`) as ``@production``."""
    from shipyard import Client, Config
    from shipyard.pipelines._loader import load_pipeline

    # Loaded by its target, so the pipeline's experiment records where the controller finds it.
    pipeline = load_pipeline(f"{retrain_closed_loop.fn.__module__}:{retrain_closed_loop.name}")
    # The pipeline's steps open the default client: SHIPYARD_HOME names the home.
    with environment(home), Client(Config(home=home)) as client:
        client.register_dataset("closed-loop-train", stream.regime_sample(1, rows, seed))
        pipeline.run({"training_data": "closed-loop-train@latest"}, client=client, executor="inline")
    with Client(Config(home=home)) as client:
        client.set_alias(MODEL, "production", 1)


def apply_policy(home: Path, settings: LoopSettings) -> None:
    """The monitor of ``@production`` (windows start now) and the policy, applied."""
    import yaml

    from shipyard import Client, Config

    with Client(Config(home=home)) as client:
        with contextlib.suppress(Exception):
            client.monitoring.delete_monitor(MONITOR)
        client.create_monitor(f"{MODEL}@production", window=f"{settings.window_s}s", name=MONITOR,
                              task="classification", label_column="label", delay_s=settings.monitor_delay_s,
                              label_horizon_s=settings.label_horizon_s)
        path = home / "policy.yaml"
        path.write_text(yaml.safe_dump(settings.policy_yaml(), sort_keys=False))
        client.automation.apply_policy(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """Shipyard's processes on ``home``, each a real subprocess logging to ``home/logs``.

    Use as a context manager: on exit every process still running is sent SIGTERM, then
    SIGKILL after ``grace`` seconds.
    """

    def __init__(self, home: Path, settings: LoopSettings, grace: float = 15.0) -> None:
        self.home, self.settings, self.grace = home, settings, grace
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.procs):
            self.stop(name)

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "SHIPYARD_HOME": str(self.home)}
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it
        cli = [sys.executable, "-c", "from shipyard.cli import main; main()"]
        process = subprocess.Popen([*cli, *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.home)
        log.close()
        self.procs[name] = process
        return process

    def serve(self) -> None:
        """``shipyard serve`` of ``@production`` (alias and split followed every ``serve_poll_s``,
        inference log flushed every ``log_flush_s``); :meth:`wait_ready` waits for it."""
        import yaml

        config = {"inference_log": {"flush_interval_s": self.settings.log_flush_s},
                  "models": {MODEL: {"uri": f"models:/{MODEL}@production",
                                     "poll_interval_s": self.settings.serve_poll_s}}}
        path = self.home / "serve.yaml"
        path.write_text(yaml.safe_dump(config))
        self._start("serve", "serve", str(path), "--port", str(self.port))

    def wait_ready(self, timeout: float = 180.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            if self.procs["serve"].poll() is not None:
                raise RuntimeError(f"shipyard serve exited: {self.log('serve')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("shipyard serve did not become ready")
            time.sleep(0.2)

    def scheduler(self) -> None:
        """``shipyard scheduler``: runs the due monitor windows every second."""
        self._start("scheduler", "scheduler", "--interval", "1")

    def controller(self, name: str = "controller") -> subprocess.Popen[bytes]:
        """``shipyard automation run`` with a short pass interval and lease."""
        return self._start(name, "automation", "run", "--interval", str(self.settings.controller_interval_s),
                           "--executor", "inline", "--lease-ttl", "3")

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """A one-off ``shipyard`` command on the home (checked)."""
        env = {**os.environ, "SHIPYARD_HOME": str(self.home)}
        return subprocess.run([sys.executable, "-c", "from shipyard.cli import main; main()", *args], env=env,
                              capture_output=True, text=True, timeout=timeout, check=True, cwd=self.home)

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` and reap it."""
        process = self.procs.pop(name)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self, name: str) -> None:
        process = self.procs.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(self.grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class StoreLabels:
    """A label poster for :class:`~shipyard.testing.closed_loop_traffic.TrafficDriver` that stores
    labels through the monitoring label API (``client.monitoring.log_labels``) of ``home``.

    Labels stored so are found by request id with one indexed query; labels posted to a
    server's ``/v1/feedback`` become inference-log segments instead, which a monitor's
    late-label pass reads back. Call :meth:`close` when the traffic is done.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self._client: Any = None

    def __call__(self, batch: list[tuple[str, int]]) -> None:
        import pandas as pd

        from shipyard import Client, Config

        if self._client is None:
            self._client = Client(Config(home=self.home))
        frame = pd.DataFrame(batch, columns=["request_id", "label"])
        self._client.monitoring.log_labels(frame, model=MODEL)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def runs_of(home: Path, policy: str = POLICY) -> list[Any]:
    """The policy's automation runs, newest first."""
    from shipyard import Client, Config

    with Client(Config(home=home)) as client:
        return list(client.automation.list_runs(policy))


def wait_for_run(home: Path, states: Iterable[str], *, timeout: float, policy: str = POLICY,
                 alive: Callable[[], None] | None = None) -> Any:
    """The newest run once it is in one of ``states``; ``alive`` is called each poll (raise
    there to give up early, e.g. when a process died). TimeoutError names the states seen."""
    wanted, seen = set(states), list[str]()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = runs_of(home, policy)
        if runs:
            if not seen or seen[-1] != runs[0].state:
                seen.append(runs[0].state)
            if runs[0].state in wanted:
                return runs[0]
        if alive is not None:
            alive()
        time.sleep(0.5)
    raise TimeoutError(f"no run of {policy} reached {sorted(wanted)} in {timeout:g}s; states seen: {seen}")


@contextlib.contextmanager
def environment(home: Path) -> Iterator[None]:
    """``SHIPYARD_HOME`` set to ``home`` while the block runs (for in-process pipeline runs)."""
    before = os.environ.get("SHIPYARD_HOME")
    os.environ["SHIPYARD_HOME"] = str(home)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SHIPYARD_HOME", None)
        else:
            os.environ["SHIPYARD_HOME"] = before
