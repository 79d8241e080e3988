"""The ``shipyard demo`` command: checks what it needs, runs the stages in lifecycle order on one
client, and keeps what it writes under the Shipyard home."""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from rich.markup import escape
from rich.rule import Rule

import shipyard
from shipyard.cli.demo import closed_loop, features, lifecycle, monitoring, retrain, serving, webui
from shipyard.cli.demo.context import DemoState
from shipyard.cli.output import console, table
from shipyard.errors import MissingExtra

__all__ = ["REQUIRES", "check_requirements", "run_demo", "shipyard_command"]

# What the demo imports beyond the base install (module → the distribution that provides it);
# the `demo` extra in pyproject.toml installs exactly these.
REQUIRES = {"sklearn": "scikit-learn"}


def check_requirements() -> None:
    """Raise :class:`~shipyard.errors.MissingExtra` naming ``shipyard[demo]`` when a module the
    demo needs is missing, before any stage runs (rather than failing half-way)."""
    for module, distribution in REQUIRES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtra(distribution, "demo") from None


def shipyard_command() -> str:
    """How the caller's shell reaches this same ``shipyard``: ``shipyard`` when it is the one on
    the PATH, ``./dev shipyard`` when it lives in a checkout's ``.venv`` (the checkout's ``dev``
    script by its full path from outside the checkout), else its own full path."""
    prefix = Path(sys.prefix)
    here = prefix / ("Scripts" if os.name == "nt" else "bin") / "shipyard"
    found = shutil.which("shipyard")
    if found and here.exists() and Path(found).resolve() == here.resolve():
        return "shipyard"
    dev = prefix.parent / "dev"
    if prefix.name == ".venv" and dev.is_file():
        relative = os.path.relpath(dev)
        if relative.startswith(os.pardir):  # from outside the checkout: its full path reads better
            return f"{dev} shipyard"
        return f"{relative if os.sep in relative else os.curdir + os.sep + relative} shipyard"
    return str(here) if here.exists() else "shipyard"


def run_demo(*, runs: int, epochs: int, requests: int, out: Path | None, serve: bool = True) -> None:
    """Run every stage on the configured client (see ``shipyard demo --help``); the files it
    writes go to ``out``, by default ``<home>/demo/<timestamp>``. With ``serve`` it then keeps
    the web UI and the continuously trained model serving until Ctrl-C; without, it ends."""
    check_requirements()
    client = shipyard.Client()
    console.print(f"[bold]Shipyard demo[/bold] — stores: {client.config.database_url}, "
                  f"{client.config.artifacts_uri}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = (out or client.config.home / "demo" / stamp).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    state = DemoState(client=client, stamp=stamp, workdir=workdir, rng=np.random.default_rng(7),
                      experiment=f"demo-{stamp}", model_name=f"demo-churn-{stamp}", data_name=f"demo-data-{stamp}",
                      command=shipyard_command(), token=secrets.token_urlsafe(24))
    try:
        console.print(Rule("1. Version the data"))
        lifecycle.version_data(state)
        console.print(Rule("2. Features: point-in-time training set, online store, skew"))
        features.feature_store(state)
        console.print(Rule("3. Track a sweep"))
        lifecycle.sweep(state, runs, epochs)
        console.print(Rule("4. Search"))
        ranked = lifecycle.search(state, runs)
        if not ranked:
            console.print("no run reached val_accuracy > 0.5")
            return
        console.print(Rule("5. Register and promote under a policy"))
        lifecycle.register(state, ranked)
        console.print(Rule("6. Load from the registry"))
        lifecycle.load(state)
        console.print(Rule("7. Serve the production model"))
        serving.serve_and_send_traffic(state, requests)
        console.print(Rule("8. Monitor: drift, late labels, alerts, report"))
        monitoring.monitor(state)
        console.print(Rule("9. Retrain as a pipeline, gate, promote"))
        retrain.retrain(state)
        console.print(Rule("10. Audit trail, lineage, card"))
        lifecycle.audit(state)
        console.print(Rule("11. Continuous training takes over: drift → retrain → shadow → canary → promote"))
        closed_loop.continuous_training(state)
        _closing(state)
        _summary(state, serve)
        if serve:
            webui.serve_until_interrupted(state)
    finally:
        webui.stop_all(state)
        client.close()


def _summary(state: DemoState, serve: bool) -> None:
    """The figures of the run, and where the web UI is (started now unless ``serve`` is off)."""
    console.print(Rule("Summary"))
    console.print(table("What the demo did", ["stage", "result"], [[k, v] for k, v in state.summary]))
    if not serve:
        console.print(f"web UI: [bold]{escape(state.command)} server[/bold] serves these stores "
                      "on http://127.0.0.1:5000")
        return
    url = webui.start_web_ui(state)
    console.print(f"[bold]web UI[/bold]: {url}  (on loopback only; this home has no users, so no sign-in)")
    console.print(f"models:/{escape(state.served.get('ct_uri', ''))} is still served on "
                  f"{state.served.get('ct_url')} (bearer token: SHIPYARD_TOKEN={escape(state.token or '')}); "
                  "Ctrl-C stops both")


def _closing(state: DemoState) -> None:
    """Where everything the demo made is, and the commands that look at it."""
    console.print(Rule("Where it all is"))
    config = state.client.config
    console.print(f"files: {escape(str(state.workdir))}")
    for path in sorted(state.workdir.iterdir()):
        console.print(f"  {escape(path.name)}")
    console.print(f"metadata: {escape(config.database_url)}; artifacts: {escape(config.artifacts_uri)}")
    cmd = escape(state.command)
    console.print(f"next, from this folder (same Shipyard home): [bold]{cmd} runs list {state.experiment}[/bold], "
                  f"[bold]{cmd} models history {state.model_name}[/bold], [bold]{cmd} pipelines list[/bold]")
    if cmd != "shipyard" and cmd.endswith(" shipyard"):
        console.print(f"or [bold]{escape(cmd[:-len(' shipyard')])} shell[/bold] for a shell where "
                      "`shipyard` is this one")
