"""``shipyard runs list|show|compare``"""

from __future__ import annotations

import typer
from rich.text import Text

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.client import Client

app = typer.Typer(help="Runs: one execution of training code and what it logged.", no_args_is_help=True)


@app.command("list")
def list_(
    experiment: str = typer.Argument("Default", help="Experiment name."),
    filter_: str | None = typer.Option(None, "--filter", "-f", help="e.g. \"metrics.auc > 0.8\""),
    order_by: list[str] | None = typer.Option(None, "--order-by", "-o", help="e.g. \"metrics.auc DESC\""),
    max_results: int = typer.Option(50, "--max", "-n", min=1),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the runs of an experiment, newest first."""
    with Client() as client:
        page = client.search_runs(experiment, filter_, order_by, max_results)
    if as_json:
        from shipyard.tracking._codec import page_to_json, run_to_json

        print_json(page_to_json(page, run_to_json))
        return
    metric_keys = sorted({k for r in page.items for k in r.metrics})[:6]
    rows = [
        [r.id, r.name, r.status.value, fmt_time(r.start_time),
         *[r.metrics[k].value if k in r.metrics else None for k in metric_keys]]
        for r in page.items
    ]
    console.print(table(f"Runs of {experiment}", ["run id", "name", "status", "started", *metric_keys], rows))
    if page.next_page_token:
        console.print(f"[dim]more runs: pass --max to see more (page token {page.next_page_token})[/dim]")


@app.command("show")
def show(run_id: str, as_json: bool = JSON_OPTION) -> None:
    """Show one run: attributes, params, tags, latest metrics and artifacts."""
    with Client() as client:
        run = client.get_run(run_id)
        artifacts = client.list_artifacts(run_id)
    if as_json:
        from shipyard.tracking._codec import artifact_to_json, run_to_json

        print_json({**run_to_json(run), "artifacts": [artifact_to_json(a) for a in artifacts]})
        return
    console.print(table(f"Run {run.id}", ["field", "value"], [
        ["name", run.name], ["experiment", run.experiment_id], ["status", run.status.value],
        ["started", fmt_time(run.start_time)], ["ended", fmt_time(run.end_time)],
        ["parent", run.parent_run_id], ["user", run.user],
        ["git commit", ((run.environment or {}).get("git") or {}).get("commit")],
    ]))
    if run.params:
        console.print(table("Params", ["key", "value"], sorted(run.params.items())))
    if run.tags:
        console.print(table("Tags", ["key", "value"], sorted(run.tags.items())))
    if run.metrics:
        console.print(table("Metrics (latest)", ["key", "value", "step"],
                            [[m.key, m.value, m.step] for m in sorted(run.metrics.values(), key=lambda m: m.key)]))
    if artifacts:
        console.print(table("Artifacts", ["path", "size", "sha256"],
                            [[a.path, a.size, a.digest[:12]] for a in artifacts]))


@app.command("compare")
def compare(run_ids: list[str] = typer.Argument(..., help="Two or more run ids."),
            as_json: bool = JSON_OPTION) -> None:
    """Params and final metrics of several runs side by side (differences in bold)."""
    if len(run_ids) < 2:
        raise typer.BadParameter("give two or more run ids", param_hint="RUN_IDS")
    with Client() as client:
        comparison = client.compare_runs(run_ids)
    if as_json:
        print_json({"run_ids": comparison.run_ids, "params": comparison.params, "metrics": comparison.metrics,
                    "differing_params": comparison.differing_params})
        return
    differing = set(comparison.differing_params)
    rows = [
        [kind, Text(str(key), style="bold") if kind == "param" and key in differing else key, *values]
        for kind, key, *values in comparison.to_rows()
    ]
    console.print(table("Comparison", ["kind", "key", *[r[:8] for r in comparison.run_ids]], rows))
