"""``shipyard automation apply|list|show|history|approve|reject``: continuous-training policies and runs."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.client import Client

__all__ = ["app"]

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
