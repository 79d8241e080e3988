"""``shipyard automation apply|list|show|history|approve|reject|trigger|plan|run``: continuous training.

``run`` is the controller (:class:`~shipyard.automation.Controller`): a loop, or one pass
with ``--once``; ``shipyard server --automation`` runs the same loop on a thread of the
server (:func:`start_background`).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.client import Client
from shipyard.config import Config

__all__ = ["app", "start_background"]

app = typer.Typer(help="Continuous training: policies that say when and how a model is retrained and rolled "
                       "out, and the runs that carry them out.", no_args_is_help=True)

_REASON = typer.Option(..., "--reason", help="Why (kept in the audit log).")


def _triggers(policy: object) -> str:
    triggers = getattr(policy, "triggers", ())
    return ", ".join(" ".join(str(v) for v in t.to_json().values()) for t in triggers)


@app.command("apply")
def apply(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The policy, a YAML file")) -> None:
    """Apply a policy: a new version if it changed. What it names (model, pipeline, datasets,
    alert rules, monitors) must exist."""
    with Client() as client:
        applied = client.automation.apply_policy(path)
    version = applied.policy
    if applied.changed:
        console.print(f"policy {version.name}: version {version.version} applied", highlight=False)
    else:
        console.print(f"policy {version.name}: unchanged (version {version.version})", highlight=False)


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List policies (their current versions)."""
    with Client() as client:
        policies = client.automation.list_policies()
    if as_json:
        print_json({"items": [p.to_json() for p in policies]})
        return
    console.print(table("Automation policies", ["name", "version", "model", "triggers", "pipeline", "enabled",
                                                "applied", "by"], [
        [p.name, p.version, p.policy.model, _triggers(p.policy), p.policy.retrain.pipeline,
         "yes" if p.policy.enabled else "no", fmt_time(p.created_at), p.actor] for p in policies]))


@app.command("show")
def show(name: str = typer.Argument(..., help="Policy name"),
         version: int | None = typer.Option(None, "--version", min=1, help="A version (default: the current one)"),
         as_json: bool = JSON_OPTION) -> None:
    """A policy as applied, its versions, and its audit trail."""
    with Client() as client:
        shown = client.automation.get_policy(name, version)
        versions = client.automation.policy_versions(name)
        audit = client.automation.policy_audit(name)
    if as_json:
        print_json({**shown.to_json(), "versions": [{"version": v.version, "created_at": v.created_at,
                                                     "actor": v.actor} for v in versions],
                    "audit": [{"at": e.at, "actor": e.actor, "action": e.action, "entity_id": e.entity_id,
                               "reason": e.reason} for e in audit]})
        return
    import yaml

    console.print(f"[bold]{shown.name}[/bold]  version {shown.version} of {len(versions)}  applied "
                  f"{fmt_time(shown.created_at)} UTC by {shown.actor or '-'}")
    console.print(yaml.safe_dump(shown.policy.to_json(), sort_keys=False).rstrip(), markup=False, highlight=False)
    console.print(table("Audit", ["at", "actor", "action", "entity", "reason"], [
        [fmt_time(e.at), e.actor, e.action, e.entity_id, e.reason] for e in audit[:20]]))


@app.command("history")
def history(name: str = typer.Argument(..., help="Policy name"),
            state: str | None = typer.Option(None, "--state", help="Only runs in this state"),
            as_json: bool = JSON_OPTION) -> None:
    """The runs of a policy, newest first."""
    with Client() as client:
        client.automation.get_policy(name)  # a misspelt name is an error, not an empty history
        runs = client.automation.list_runs(name, state)
    if as_json:
        print_json({"items": [r.to_json() for r in runs]})
        return
    console.print(table(f"Runs of {name}", ["run id", "version", "state", "started", "updated", "reason"], [
        [r.id, r.policy_version, r.state + (f" (then {r.resume_state})" if r.resume_state else ""),
         fmt_time(r.started_at), fmt_time(r.updated_at), r.reason] for r in runs]))


@app.command("approve")
def approve(run_id: str = typer.Argument(..., help="A run awaiting approval"), reason: str = _REASON) -> None:
    """Let a run awaiting approval go on."""
    with Client() as client:
        run = client.automation.approve_run(run_id, reason)
    console.print(f"run {run.id} of {run.policy}: approved, now {run.state}", highlight=False)


@app.command("reject")
def reject(run_id: str = typer.Argument(..., help="A run awaiting approval"), reason: str = _REASON) -> None:
    """End a run awaiting approval as rejected."""
    with Client() as client:
        run = client.automation.reject_run(run_id, reason)
    console.print(f"run {run.id} of {run.policy}: rejected", highlight=False)


@app.command("trigger")
def trigger(name: str = typer.Argument(..., help="Policy name"), reason: str = _REASON) -> None:
    """Ask for a retrain now (a manual trigger): the controller takes it on at its next pass,
    guards permitting."""
    with Client() as client:
        run = client.automation.request_run(name, reason)
    console.print(f"run {run.id} of {run.policy}: triggered", highlight=False)


@app.command("plan")
def plan(model: str = typer.Argument(..., help="A registered model"), as_json: bool = JSON_OPTION) -> None:
    """What the controller would do now for a model's policies: the active run and its next
    step, or the triggers that fire and what the guards say. Acts on nothing."""
    with Client() as client:
        found = client.automation.plan(model)
    if as_json:
        print_json(found.to_json())
        return
    console.print(f"[bold]{found.model}[/bold]  champion: "
                  f"{'-' if found.champion is None else f'version {found.champion}'}", highlight=False)
    if not found.policies:
        console.print("no automation policy watches this model", highlight=False)
    for p in found.policies:
        run = p.active_run
        now = f"run {run['id']} is {run['state']}" if run else "no active run"
        console.print(f"policy {p.policy} (version {p.version}): {now}", highlight=False, markup=False)
        for fired in p.firing:
            console.print("  fires: " + ", ".join(f"{k}={v}" for k, v in fired.items()), highlight=False,
                          markup=False)
        console.print(f"  next: {p.next}", highlight=False, markup=False)


def _line(step: Any) -> str:
    came = step.from_state or "new"
    return f"{step.policy} run {step.run_id}: {came} -> {step.to_state}" + (f" ({step.reason})" if step.reason else "")


def _controller(client: Client, holder: str | None, lease_ttl: float, executor: str) -> Any:
    from shipyard.automation import Controller

    return Controller(client, holder=holder, lease_ttl_s=lease_ttl, executor=executor)


class _Printer(logging.Handler):
    """Each move the loop logs, as a line on the console."""

    def emit(self, record: logging.LogRecord) -> None:
        console.print(self.format(record), markup=False, highlight=False)


@app.command("run")
def run(once: bool = typer.Option(False, "--once", help="one pass: move each active run at most one state, "
                                                        "wait for a retrain it started, say what moved, exit"),
        interval: float = typer.Option(10.0, "--interval", min=0.1, help="seconds between passes"),
        executor: str = typer.Option("local", "--executor", "-e", help="runs the retraining pipelines: local, "
                                                                       "inline, ray"),
        holder: str | None = typer.Option(None, "--holder", help="this controller's name in the leases "
                                                                 "(default host:pid)"),
        lease_ttl: float = typer.Option(60.0, "--lease-ttl", min=0.5, max=86400.0,
                                        help="seconds a lease lasts unrenewed: how soon another controller "
                                             "takes over from a dead one")) -> None:
    """The continuous-training controller: watch every policy's triggers, retrain, evaluate,
    gate and roll out (Ctrl-C or SIGTERM stops it cleanly)."""
    with Client() as client:
        controller = _controller(client, holder, lease_ttl, executor)
        if once:
            try:
                steps = controller.tick()
                controller.wait()
            finally:
                controller.close()
            for step in steps:
                console.print(_line(step), markup=False, highlight=False)
            if not steps:
                console.print("nothing to do")
            return
        log = logging.getLogger("shipyard.automation")
        handler = _Printer()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        console.print(f"automation: a pass every {interval:g}s (Ctrl-C stops)", highlight=False)
        try:
            controller.run(interval, stop)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how the loop is meant to end; the lease is released below
        finally:
            signal.signal(signal.SIGTERM, previous)
            log.removeHandler(handler)


def start_background(config: Config, interval: float = 10.0) -> tuple[threading.Event, threading.Thread]:
    """Run the controller loop on a thread (for ``shipyard server --automation``); set the event
    and join the thread to stop it cleanly (its leases are released)."""
    stop = threading.Event()

    def work() -> None:
        with Client(config) as client:
            _controller(client, None, 60.0, "local").run(interval, stop)

    thread = threading.Thread(target=work, name="shipyard-automation", daemon=True)
    thread.start()
    return stop, thread
