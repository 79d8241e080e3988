"""``shipyard alerts rule add|delete``, ``rules``, ``list``, ``history``, ``evaluate``, ``export``"""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard.cli.groups import NestedGroup
from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.client import Client
from shipyard.errors import InvalidInput, NotFound

app = typer.Typer(help="Alert rules on monitored series, the alerts they raise, and their history.",
                  no_args_is_help=True, cls=NestedGroup)
rule_app = typer.Typer(help="Add or delete alert rules.", no_args_is_help=True)
app.add_typer(rule_app, name="rule")

_LISTED = 10  # names quoted in a message before "… and N more"


@rule_app.command("add")
def add(condition: str = typer.Argument(..., help='e.g. "drift_share > 0.3 for 2 windows"'),
        name: str | None = typer.Option(None, "--name", help="Rule name (default: the series name)."),
        monitor: str = typer.Option("*", "--monitor", help="A monitor's name, or * for every monitor."),
        severity: str = typer.Option("warning", "--severity", help="info, warning or critical."),
        notify: list[str] | None = typer.Option(None, "--notify", help="Notifier name, repeatable (default: log)."),
        repeat: str | None = typer.Option(None, "--repeat", help="Re-notify a firing alert this often, e.g. 4h."),
        description: str | None = typer.Option(None, "--description"),
        disabled: bool = typer.Option(False, "--disabled", help="Store the rule without evaluating it."),
        replace: bool = typer.Option(False, "--replace", help="Replace a rule of the same name.")) -> None:
    """Add a rule: it fires when CONDITION holds for its last N windows.

    The monitor must exist (it need not have run yet); '*' watches every monitor.
    """
    with Client() as client:
        if monitor != "*":
            _check_monitor(client, monitor)
        rule = client.create_alert_rule(condition, name=name, monitor=monitor, severity=severity,
                                        notify=notify or (), repeat_interval=repeat, description=description,
                                        enabled=not disabled, replace=replace)
    console.print(f"rule {rule.name}: {rule.condition} on {rule.monitor} ({rule.severity})", highlight=False)


def _check_monitor(client: Client, monitor: str) -> None:
    """Refuse ``--monitor`` naming no monitor, listing the monitors there are."""
    try:
        client.get_monitor(monitor)
    except NotFound:
        known = sorted(m.name for m in client.list_monitors())
        listed = ", ".join(known[:_LISTED]) + (f" … and {len(known) - _LISTED} more" if len(known) > _LISTED else "")
        raise NotFound(f"--monitor {monitor!r}: no monitor of that name (monitors: {listed or 'none yet'}); "
                       f"create it first (shipyard monitor create), or use '*' for every monitor",
                       resource="monitor", field="monitor", value=monitor) from None


def _check_rule(client: Client, rule: str) -> None:
    """Refuse ``--rule`` naming no rule, unless the history still holds its entries."""
    try:
        client.get_alert_rule(rule)
    except NotFound:
        known = sorted(r.name for r in client.list_alert_rules())
        listed = ", ".join(known[:_LISTED]) + (f" … and {len(known) - _LISTED} more" if len(known) > _LISTED else "")
        raise NotFound(f"--rule {rule!r}: no rule of that name (rules: {listed or 'none yet'})",
                       resource="alert rule", field="rule", value=rule) from None


@rule_app.command("delete")
def delete(name: str = typer.Argument(..., help="Rule name")) -> None:
    """Delete a rule and its alerts (the history keeps them)."""
    with Client() as client:
        client.delete_alert_rule(name)
    console.print(f"deleted rule {name}")


@app.command("rules")
def rules(as_json: bool = JSON_OPTION) -> None:
    """List alert rules."""
    with Client() as client:
        found = client.list_alert_rules()
    if as_json:
        print_json({"items": [r.to_json() for r in found]})
        return
    console.print(table("Alert rules", ["name", "condition", "monitor", "severity", "notify", "repeat", "enabled"], [
        [r.name, r.condition, r.monitor, r.severity, ", ".join(r.notify) or "log",
         f"{r.repeat_interval_ms // 1000}s" if r.repeat_interval_ms else "-", "yes" if r.enabled else "no"]
        for r in found]))


@app.command("list")
def list_(state: str | None = typer.Option(None, "--state", help="firing or resolved"),
          rule: str | None = typer.Option(None, "--rule", help="Only this rule's alerts."),
          as_json: bool = JSON_OPTION) -> None:
    """List alerts, firing first."""
    with Client() as client:
        found = client.list_alerts(state, rule)
        if rule is not None and not found:
            _check_rule(client, rule)
    if as_json:
        print_json({"items": [a.to_json() for a in found]})
        return
    console.print(table("Alerts", ["state", "rule", "monitor", "labels", "severity", "value", "since", "resolved",
                                   "fired"], [
        [a.state, a.rule, a.monitor, ", ".join(f"{k}={v}" for k, v in a.labels.items()) or "-", a.severity,
         a.last_value, fmt_time(a.started_at), fmt_time(a.resolved_at), a.count] for a in found]))


@app.command("history")
def history(rule: str | None = typer.Option(None, "--rule", help="Only this rule's history."),
            limit: int = typer.Option(50, "--limit", min=1, max=10_000),
            as_json: bool = JSON_OPTION) -> None:
    """The newest alert transitions and notification outcomes, newest first."""
    with Client() as client:
        entries = client.alert_history(rule, limit=limit)
        if rule is not None and not entries:  # a deleted rule's history is still shown
            _check_rule(client, rule)
    if as_json:
        print_json({"items": [e.to_json() for e in entries]})
        return
    console.print(table("Alert history", ["at", "kind", "rule", "monitor", "labels", "value", "notifier", "detail"], [
        [fmt_time(e.at), e.kind, e.rule, e.monitor, ", ".join(f"{k}={v}" for k, v in (e.labels or {}).items())
         or "-", e.value, e.notifier, e.detail] for e in entries]))


@app.command("evaluate")
def evaluate() -> None:
    """Evaluate every rule now and send the notifications."""
    with Client() as client:
        events = client.evaluate_alerts()
    for event in events:
        console.print(f"{event.title}: {event.summary}", highlight=False, soft_wrap=True)
    console.print(f"{len(events)} transitions")


@app.command("export")
def export(prometheus: bool = typer.Option(False, "--prometheus", help="Prometheus alerting rules (YAML)."),
           out: Path | None = typer.Option(None, "--out", help="Write to this file instead of stdout."),
           default_window: str = typer.Option("1h", "--default-window",
                                              help="The window assumed for monitors that do not exist yet.")) -> None:
    """Export the rules for another alerting system."""
    if not prometheus:
        raise InvalidInput("choose a format: --prometheus", field="format")
    with Client() as client:
        text = client.export_prometheus_rules(default_window=default_window)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text)
    console.print(f"wrote {out}")
