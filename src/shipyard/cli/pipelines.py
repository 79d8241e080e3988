"""``shipyard pipelines run|list|show|logs|schedule|unschedule`` and ``shipyard run FILE``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.cli.user_code import loading
from shipyard.client import Client
from shipyard.errors import InvalidInput

__all__ = ["app", "run_file"]

app = typer.Typer(help="Pipelines: typed steps run as a DAG, cached, retried, scheduled.", no_args_is_help=True)


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON is taken as JSON (numbers, lists…)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"parameters look like key=value, got {item!r}", field="param")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


class _Lines:
    """A plain progress log for terminals that are not interactive (CI logs, pipes)."""

    def __init__(self) -> None:
        from shipyard.pipelines import PipelineHooks, StepState

        class Hook(PipelineHooks):
            def on_pipeline_start(self, run: Any) -> None:
                console.print(f"pipeline {run.pipeline}: run {run.run_id or '(untracked)'}, "
                              f"{len(run.steps)} steps on {run.executor}")

            def on_step(self, run: Any, status: Any) -> None:
                if status.state.is_final or status.state is StepState.RETRYING:
                    took = f" in {status.result.duration_s:.2f}s" if status.result else ""
                    console.print(f"  {status.node}: {status.state.value}{took}", highlight=False)

            def on_pipeline_end(self, run: Any) -> None:
                from shipyard.pipelines._view import failure_panel

                for status in run.steps.values():
                    if status.state is StepState.FAILED:
                        console.print(failure_panel(status))
                console.print(f"pipeline {run.pipeline}: {run.status}")

        self.hook = Hook()


def _run(target: str, param: list[str] | None, executor: str, resume: str | None, no_cache: bool,
         live: bool | None, processes: int | None) -> None:
    from shipyard.pipelines import executor_from_spec
    from shipyard.pipelines._loader import load_pipeline
    from shipyard.pipelines._view import LiveView

    with loading(target):
        pipeline = load_pipeline(target)
    interactive = sys.stdout.isatty() if live is None else live
    hook = LiveView(console) if interactive else _Lines().hook
    options = {"processes": processes} if processes and executor == "local" else {}
    ex, _ = executor_from_spec(executor, **options)
    started = time.perf_counter()
    with Client() as client:
        try:
            result = pipeline.run(parse_params(param), client=client, executor=ex, hooks=[hook],
                                  cache=not no_cache, resume=resume)
        except BaseException:
            ex.finalize(cancel=True)  # Ctrl-C or a failure: do not wait for steps still running
            raise
        ex.finalize()
    console.print(f"run {result.run_id}: {result.status} in {time.perf_counter() - started:.2f}s "
                  f"({len(result.computed)} computed, {len(result.cached)} cached)")


_TARGET = typer.Argument(..., help="train.py, train.py:NAME or package.module:NAME")
_PARAM = typer.Option(None, "--param", "-p", help="key=value (JSON values allowed); repeat for more")
_EXECUTOR = typer.Option("local", "--executor", "-e", help="local, inline, ray, or ray://host:port")
_RESUME = typer.Option(None, "--resume", help="a failed run's id: reuse its parameters and finished steps")
_NO_CACHE = typer.Option(False, "--no-cache", help="recompute every step")
_LIVE = typer.Option(None, "--live/--no-live", help="the live view (default: when the terminal is interactive)")
_PROCESSES = typer.Option(None, "--processes", help="worker processes of the local executor (default: CPUs)")


@app.command("run")
def run(target: str = _TARGET, param: list[str] | None = _PARAM, executor: str = _EXECUTOR,
        resume: str | None = _RESUME, no_cache: bool = _NO_CACHE, live: bool | None = _LIVE,
        processes: int | None = _PROCESSES) -> None:
    """Run a pipeline from a file, showing each step's state as it goes."""
    _run(target, param, executor, resume, no_cache, live, processes)


def run_file(target: str = _TARGET, param: list[str] | None = _PARAM, executor: str = _EXECUTOR,
             resume: str | None = _RESUME, no_cache: bool = _NO_CACHE, live: bool | None = _LIVE,
             processes: int | None = _PROCESSES) -> None:
    """Run the pipeline in a file (same as 'shipyard pipelines run')."""
    _run(target, param, executor, resume, no_cache, live, processes)


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List the pipelines that have run here, with their latest run and schedules."""
    from dataclasses import asdict

    from shipyard.pipelines._records import list_pipelines
    from shipyard.tracking._codec import run_to_json

    rows, items = [], []
    with Client() as client:
        for p in list_pipelines(client):
            page = client.search_runs(experiment_ids=[p.experiment_id], filter="tags.`shipyard.kind` = 'pipeline'",
                                      order_by=["attributes.start_time DESC"], max_results=1)
            last = page.items[0] if page.items else None
            items.append({**asdict(p), "last_run": run_to_json(last) if last else None})
            rows.append([p.name, len((p.dag or {}).get("steps", [])), last.id if last else None,
                         last.status.value if last else None, fmt_time(last.start_time) if last else None,
                         "; ".join(s["id"] for s in p.schedules) or "-", p.target])
    if as_json:
        print_json({"items": items})
        return
    console.print(table("Pipelines", ["pipeline", "steps", "last run", "status", "started", "schedules", "target"],
                        rows))


@app.command("show")
def show(what: str = typer.Argument(..., help="a pipeline name, or a pipeline run id"),
         as_json: bool = JSON_OPTION) -> None:
    """Show a pipeline run step by step (failed steps with their traceback), or a pipeline's
    definition, schedules and recent runs."""
    from dataclasses import asdict

    from rich.markup import escape
    from rich.panel import Panel

    from shipyard.pipelines._records import list_pipelines, load_run
    from shipyard.tracking._codec import run_to_json

    with Client() as client:
        if len(what) == 32 and all(c in "0123456789abcdef" for c in what):
            record = load_run(client, what)
            if as_json:
                print_json(asdict(record))
                return
            console.print(table(f"Pipeline run {record.run_id} ({record.pipeline}): {record.status}",
                                ["step", "state", "attempts", "time", "inputs from", "run / cached from"],
                                [[s.node, s.state, s.attempt or "-",
                                  f"{s.duration_s:.3f}s" if s.duration_s is not None else None,
                                  ", ".join(sorted(set(s.inputs.values()))) or "-", s.run_id or s.cached_from]
                                 for s in record.steps]))
            if record.params:
                console.print(table("Params", ["key", "value"], sorted(record.params.items())))
            for s in record.steps:
                if s.state == "failed" and s.run_id:
                    text = b"".join(client.tracking_store.open_artifact(s.run_id, "traceback.txt")).decode()
                    inputs = json.loads(client.get_run(s.run_id).tags.get("shipyard.inputs", "{}"))
                    params = client.get_run(s.run_id).params
                    lines = [f"{k} <- {v['node']} ({v['serializer']}, {v['size']} bytes, sha256 {v['digest'][:12]})"
                             for k, v in inputs.items()] + [f"{k} = {v}" for k, v in params.items()]
                    console.print(Panel(escape("inputs:\n  " + "\n  ".join(lines or ["(none)"]) + "\n\n" + text),
                                        title=f"step {s.node} failed", border_style="red", expand=False))
            return
        found = [p for p in list_pipelines(client) if p.name == what]
        if not found:
            from shipyard.errors import NotFound

            raise NotFound(f"no pipeline {what!r} has run here", resource="pipeline", name=what)
        p = found[0]
        page = client.search_runs(experiment_ids=[p.experiment_id], filter="tags.`shipyard.kind` = 'pipeline'",
                                  order_by=["attributes.start_time DESC"], max_results=10)
        if as_json:
            print_json({**asdict(p), "recent_runs": [run_to_json(r) for r in page.items]})
            return
        steps = (p.dag or {}).get("steps", [])
        console.print(table(f"Pipeline {p.name} ({p.target or 'target unknown'})", ["step", "function", "inputs from"],
                            [[s["name"], s["step"], ", ".join(s["upstream"]) or "-"] for s in steps]))
        if p.schedules:
            console.print(table("Schedules", ["id", "trigger", "executor", "params"],
                                [[s["id"], f"cron {s['cron']} ({s['timezone']})" if s["cron"]
                                  else f"new version of {s['dataset']}", s["executor"], json.dumps(s["params"])]
                                 for s in p.schedules]))
        console.print(table("Recent runs", ["run id", "status", "started", "schedule", "outcome"],
                            [[r.id, r.status.value, fmt_time(r.start_time), r.tags.get("shipyard.schedule"),
                              r.tags.get("shipyard.schedule.outcome")] for r in page.items]))


@app.command("logs")
def logs(run_id: str = typer.Argument(..., help="a pipeline run id"),
         step: str | None = typer.Argument(None, help="one step (default: all)")) -> None:
    """Print the captured output (and tracebacks) of a pipeline run's steps."""
    from shipyard.pipelines._records import step_logs

    with Client() as client:
        for node, text in step_logs(client, run_id, step).items():
            console.rule(node)
            console.print(text.rstrip() or "(no output)", markup=False, highlight=False)


def _check_dataset(client: Any, name: str) -> None:
    """``NotFound`` naming ``--on-dataset`` unless dataset ``name`` exists here."""
    from shipyard.errors import NotFound

    known = sorted(d.name for d in client.list_datasets())
    if name not in known:
        shown = ", ".join(known[:10]) + (", …" if len(known) > 10 else "") if known else "none"
        raise NotFound(f"--on-dataset {name!r}: no such dataset here (datasets: {shown})",
                       resource="dataset", name=name)


@app.command("schedule")
def schedule(
    pipeline: str = typer.Argument(..., help="the pipeline's name"),
    cron: str | None = typer.Option(None, "--cron", help='e.g. "0 3 * * *" (03:00 every day)'),
    on_dataset: str | None = typer.Option(None, "--on-dataset", help="run when this dataset gets a new version"),
    file: str | None = typer.Option(None, "--file", "-f", help="file.py[:NAME] (default: where it last ran from)"),
    param: list[str] | None = _PARAM,
    executor: str = typer.Option("local", "--executor", "-e"),
    timezone: str = typer.Option("UTC", "--tz", help="time zone of the cron expression"),
    version_param: str | None = typer.Option(
        None, "--version-param", help="with --on-dataset: pass the new dataset version (its number) to the "
                                      "pipeline as this parameter, e.g. --version-param version"),
    schedule_id: str | None = typer.Option(None, "--id", help="a name for the schedule"),
) -> None:
    """Run a pipeline on a cron schedule or when a dataset gets a new version."""
    import hashlib

    from shipyard.pipelines._records import list_pipelines
    from shipyard.pipelines._scheduler import dataset_versions
    from shipyard.pipelines._schedules import Schedule, ScheduleBook, check_timezone
    from shipyard.tracking import now_ms

    check_timezone(timezone, "--tz")
    with Client() as client:
        if on_dataset:
            _check_dataset(client, on_dataset)
        target = file
        if target is None:
            known = [p for p in list_pipelines(client) if p.name == pipeline]
            target = known[0].target if known else None
            if target is None:
                raise InvalidInput(f"pipeline {pipeline!r} has not run here yet; pass --file", field="file")
        elif ":" not in target and target.endswith(".py"):
            target = f"{Path(target).resolve()}:{pipeline}"
        params = parse_params(param)
        sid = schedule_id or ("cron-" + hashlib.sha256(f"{cron}|{timezone}|{json.dumps(params)}".encode())
                              .hexdigest()[:8] if cron else f"on-{on_dataset}")
        baseline = None
        if on_dataset:
            versions = dataset_versions(client)
            baseline = versions(on_dataset) if versions else None
        made = ScheduleBook(client).add(Schedule(
            id=sid, pipeline=pipeline, target=target, cron=cron, dataset=on_dataset, params=params,
            executor=executor, timezone=timezone, version_param=version_param, baseline=baseline,
            created_at=now_ms()))
    console.print(f"schedule {made.id} of {pipeline}: {made.trigger}; runs {target}")


@app.command("unschedule")
def unschedule(pipeline: str = typer.Argument(...), schedule_id: str = typer.Argument(..., help="see pipelines show")
               ) -> None:
    """Remove a schedule (its past runs stay)."""
    from shipyard.pipelines._schedules import ScheduleBook

    with Client() as client:
        removed = ScheduleBook(client).remove(pipeline, schedule_id)
    console.print(f"removed schedule {removed.id} of {pipeline}")
