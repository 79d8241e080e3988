"""``shipyard monitor create|list|show|run|report|delete|export-labelled`` and ``shipyard monitor labels upload``"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import typer

from shipyard.cli.exit_codes import ExitCode
from shipyard.cli.groups import NestedGroup
from shipyard.cli.output import JSON_OPTION, console, fmt_time, fmt_value, print_json, table
from shipyard.client import Client
from shipyard.errors import InvalidInput

__all__ = ["app", "run_due_monitors"]

app = typer.Typer(help="Monitors over the inference log: drift, quality, latency, performance.",
                  no_args_is_help=True, cls=NestedGroup)
labels_app = typer.Typer(help="Ground-truth labels for logged predictions.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")

_SHOWN = ("rows", "drift_share", "prediction_drift_score", "p99_latency_ms", "error_rate", "labelled_rows")


def _when(text: str | None, field: str) -> int | None:
    """An ISO time (UTC unless it says otherwise), or ms since the epoch."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--{field} must be an ISO time such as 2026-01-31T12:00, got {text!r}",
                           field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def _since(text: str) -> str | int | None:
    """A duration back from the end of the period (``7d``, ``12h``), or an ISO time."""
    from shipyard.timeutil import parse_duration

    try:
        return f"{parse_duration(text, 'since')}s"
    except InvalidInput:
        pass
    try:
        return _when(text, "since")
    except InvalidInput:
        raise InvalidInput(f"--since must be a duration such as 7d or 12h, or an ISO time such as "
                           f"2026-01-31T12:00; got {text!r}", field="since") from None


def _window(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command("create")
def create(model: str = typer.Argument(..., help="churn@production, churn/3 or churn"),
           reference: str | None = typer.Option(None, help="Dataset the windows are compared with, e.g. ds:churn@3"),
           window: str = typer.Option("1h", help="Window length: 15m, 1h, 1d…"),
           name: str | None = typer.Option(None, help="Monitor name (default: the model reference)"),
           task: str | None = typer.Option(None, help="classification or regression (default: guessed)"),
           label_column: str | None = typer.Option(None, help="The reference's target column"),
           column: list[str] | None = typer.Option(None, "--column", help="Input to watch (repeatable; default all)"),
           delay: float | None = typer.Option(None, help="Seconds after a window ends before it is computed"),
           route: str | None = typer.Option(None, help="Route whose rows count ('*': all but shadow)"),
           start: str | None = typer.Option(None, help="First window holds this time (ISO; default now)")) -> None:
    """Create a monitor over MODEL's inference log."""
    options = {k: v for k, v in (("columns", column or None), ("delay_s", delay), ("route", route)) if v is not None}
    with Client() as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = client.create_monitor(model, reference=reference, window=window, name=name, task=task,
                                        label_column=label_column, start=_when(start, "start"), **options)
    for warning in caught:  # e.g. inputs of the model the reference lacks
        console.print(f"warning: {warning.message}", markup=False)
    console.print(f"monitor {monitor.name}: {monitor.model}, {_window(monitor.window_s)} windows"
                  f"{f' against {monitor.reference}' if monitor.reference else ''}, first window "
                  f"{fmt_time(monitor.cursor)} UTC")


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List monitors."""
    with Client() as client:
        monitors = client.list_monitors()
    if as_json:
        from shipyard.monitoring._codec import monitor_to_json

        print_json({"items": [monitor_to_json(m) for m in monitors]})
        return
    console.print(table("Monitors", ["name", "model", "reference", "window", "computed up to"], [
        [m.name, m.model, m.reference, _window(m.window_s), fmt_time(m.cursor)] for m in monitors]))


@app.command("show")
def show(name: str = typer.Argument(..., help="Monitor name"),
         last: int = typer.Option(10, min=1, help="How many recent windows to show"),
         as_json: bool = JSON_OPTION) -> None:
    """A monitor's definition and its latest windows."""
    with Client() as client:
        monitor = client.get_monitor(name)
        windows = client.list_monitor_windows(name)[-last:]
        points = client.query_series(name, since=windows[0].window_end - 1) if windows else []
    if as_json:
        from shipyard.monitoring._codec import monitor_to_json, window_to_json

        series: dict[int, dict[str, float | None]] = {}
        for p in points:
            if not p.labels:
                series.setdefault(p.window_start, {})[p.series] = p.value
        print_json({**monitor_to_json(monitor), "windows": [
            {**window_to_json(w), "series": series.get(w.window_start, {})} for w in windows]})
        return
    console.print(f"[bold]{monitor.name}[/bold]  model {monitor.model}  reference {monitor.reference or '-'}  "
                  f"window {_window(monitor.window_s)}  task {monitor.task or 'guessed'}")
    if monitor.options:
        console.print(f"options: {dict(monitor.options)}")
    console.print(f"computed up to {fmt_time(monitor.cursor)} UTC; labels applied up to "
                  f"{fmt_time(monitor.label_watermark)} UTC")
    values = {(p.window_start, p.series): p.value for p in points if not p.labels}
    console.print(table("Windows", ["start (UTC)", "status", "version", *_SHOWN], [
        [fmt_time(w.window_start), w.status, w.version, *(values.get((w.window_start, s)) for s in _SHOWN)]
        for w in windows]))


@app.command("run")
def run(names: list[str] | None = typer.Argument(None, help="Monitors to run (default: all)"),
        now: str | None = typer.Option(None, help="Pretend it is this time (ISO); default now"),
        partial: bool = typer.Option(False, "--partial",
                                     help="Also compute the window still open, as it stands (marked partial, "
                                          "not stored)")) -> None:
    """Compute every closed window not computed yet (and apply late labels).

    A window is computed once it has closed (plus the monitor's delay); the rows that
    wait for it are counted, and --partial shows the open window so far.
    """
    with Client() as client:
        for name in names or ():
            client.get_monitor(name)  # a misspelt name is an error, not a run of nothing
        results = client.run_monitors(now=_when(now, "now"), names=names or None, include_partial=partial)
    rows = []
    for r in results:
        rows.append([r.monitor, len(r.windows), len(r.relabelled), sum(w.rows for w in r.windows),
                     r.pending_rows, fmt_value(r.latest.get("drift_share")), fmt_value(r.latest.get("accuracy")),
                     r.error or ("up to date" if not r.windows else f"to {fmt_time(r.windows[-1].window_end)}")])
    console.print(table("Monitor runs", ["monitor", "windows", "relabelled", "rows", "rows waiting", "drift share",
                                         "accuracy", "status"], rows))
    for r in results:
        if r.pending or r.partial or r.alerts or r.backlog:
            console.print(f"{r.monitor}: {r.summary()}", markup=False)
    failed = [(r.monitor, alert, notifier, why) for r in results for alert, notifier, why in r.failed_deliveries]
    for monitor, alert, notifier, why in failed:
        console.print(f"error: alert {alert.rule.name} of {monitor} was not delivered to {notifier}: {why}",
                      markup=False)
    if failed or any(r.error and "another runner" not in r.error for r in results):
        raise typer.Exit(ExitCode.ERROR)


@app.command("report")
def report(name: str = typer.Argument(..., help="Monitor name"),
           since: str = typer.Option("7d", help="Period: a duration back from --until (7d) or an ISO time"),
           until: str | None = typer.Option(None, help="End of the period (ISO; default now)"),
           out: Path = typer.Option(Path("report.html"), "--out", help="HTML report to write"),
           json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON")) -> None:
    """Write a self-contained HTML report (and optionally JSON) of a monitor over a period."""
    import orjson

    from shipyard.monitoring import render_html

    since_value = _since(since)
    with Client() as client:
        data = client.monitor_report(name, since=since_value, until=_when(until, "until"))
    out.write_text(render_html(data), encoding="utf-8")
    console.print(f"wrote {out}")
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(data.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        console.print(f"wrote {json_out}")


@app.command("delete")
def delete(name: str = typer.Argument(..., help="Monitor name")) -> None:
    """Delete a monitor with its stored windows and series."""
    with Client() as client:
        client.delete_monitor(name)
    console.print(f"deleted monitor {name}")


@app.command("export-labelled")
def export_labelled(model: str = typer.Argument(..., help="churn@production, churn/3 or churn"),
                    since: str = typer.Option("7d", help="Period: a duration back from now (7d) or an ISO time"),
                    to: str = typer.Option(..., "--to", help="The dataset to add a version to, e.g. ds:churn-labelled"),
                    monitor: str | None = typer.Option(None, help="The monitor to record as the source (default: "
                                                                  "every monitor of MODEL)"),
                    label_column: str | None = typer.Option(None, help="The label's column (default: the "
                                                                       "monitor's label column, else label)")) -> None:
    """Export what MODEL answered since then and has labels for, as a new dataset version."""
    since_value = _since(since)
    with Client() as client:
        client.monitoring.check_model(model)  # a misspelt model is not one without labels
        done = client.automation.export_labelled(model, to=to, since=since_value, monitor=monitor,
                                                 label_column=label_column)
    console.print(f"exported {done.rows} labelled rows of {model} as {done.ref} (label column "
                  f"{done.label_column})", highlight=False)


@labels_app.command("upload")
def upload(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A Parquet or CSV file"),
           model: str | None = typer.Option(None, help="Served model the labels are for (default: any)"),
           label: str = typer.Option("label", help="The column holding the labels")) -> None:
    """Upload ground-truth labels keyed by request_id (and optionally row)."""
    import pandas as pd

    try:
        if path.suffix.lower() in (".csv", ".txt"):
            frame = pd.read_csv(path, dtype={"request_id": str, "model": str})
        else:
            frame = pd.read_parquet(path)
    except (ValueError, OSError, ImportError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", field="path") from None
    with Client() as client:
        stored = client.log_labels(frame, model=model, label=label)
    console.print(f"stored {stored} labels")


def run_due_monitors(client: Client) -> list[Any]:
    """Run every monitor once (a scheduler tick) and return what each did: failures are
    logged, never raised."""
    import logging

    log = logging.getLogger("shipyard.scheduler")
    try:
        results = client.run_monitors()
    except Exception:  # noqa: BLE001 - a broken store must not stop the pipeline schedules
        log.exception("running monitors failed")
        return []
    for result in results:
        if result.error:
            log.warning("monitor %s: %s", result.monitor, result.error)
        elif result.windows or result.relabelled:
            log.info("monitor %s: %d windows computed, %d relabelled", result.monitor, len(result.windows),
                     len(result.relabelled))
    return list(results)
