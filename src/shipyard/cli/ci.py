"""``shipyard ci validate|compare``: gates and comparisons for a CI pipeline, as Markdown."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard.cli.exit_codes import ExitCode
from shipyard.cli.output import JSON_OPTION, console, console_err, print_json

__all__ = ["app"]

app = typer.Typer(help="Model checks for CI: validation gates and paired comparisons, written as Markdown.",
                  no_args_is_help=True)

_REPORT = typer.Option(None, "--report", dir_okay=False,
                       help="Also write the Markdown report to this file (for a pull-request comment).")


def _emit(markdown: str, document: dict[str, object], report: Path | None, as_json: bool) -> None:
    from shipyard.delivery._markdown import write_report

    if report is not None:
        write_report(report, markdown)
    if as_json:
        print_json(document)
    else:
        console.print(markdown, markup=False, highlight=False, soft_wrap=True, end="")  # table rows stay whole


@app.command("validate")
def validate(
    uri: str = typer.Argument(..., metavar="MODEL_URI",
                              help="models:/name/3, models:/name@alias, or runs:/<run id>/<path> with --name"),
    report: Path | None = _REPORT,
    policy: Path | None = typer.Option(None, "--policy", dir_okay=False,
                                       help="Promotion policy file (YAML or JSON) to use instead of the "
                                            "registered model's."),
    name: str | None = typer.Option(None, "--name", help="For a runs:/ URI: the registered model it is a "
                                                         "candidate for (its holder and policy)."),
    alias: str | None = typer.Option(None, "--alias", help="The guarded alias to check against (default: the "
                                                           "policy's first)."),
    contract: Path | None = typer.Option(None, "--contract", dir_okay=False,
                                         help="Data contract (YAML) to check instead of the package's own."),
    calls: int = typer.Option(100, "--calls", min=1, help="Timed predict calls on the input example."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the promotion policy, the data contract and a smoke test on a model; exits with
    status 3 when a gate fails."""
    from shipyard.client import Client
    from shipyard.datasets import Contract
    from shipyard.delivery import load_policy, validate_model
    from shipyard.delivery._markdown import check_report_path

    if report is not None:
        check_report_path(report)
    chosen = load_policy(policy) if policy is not None else None
    checked = Contract.load(contract) if contract is not None else None
    with console_err.status(f"Validating {uri}"), Client() as client:
        result = validate_model(client, uri, name=name, policy=chosen, alias=alias, contract=checked, calls=calls,
                                policy_source=f"file {policy}" if policy is not None else None)
    _emit(result.to_markdown(), result.to_json(), report, as_json)
    if not result.passed:
        raise typer.Exit(ExitCode.CHECK_FAILED)


@app.command("compare")
def compare(
    candidate: str = typer.Argument(..., help="The candidate model URI."),
    baseline: str = typer.Argument(..., help="The baseline model URI (e.g. models:/name@production)."),
    data: str = typer.Option(..., "--data", help="Dataset version both are scored on: ds:NAME@VERSION."),
    metric: str | None = typer.Option(None, "--metric", help="accuracy, precision, recall, f1, roc_auc, log_loss, "
                                                             "mae, rmse or r2 (default: accuracy or rmse)."),
    target: str | None = typer.Option(None, "--target", help="Label column (default: the one column neither "
                                                             "model takes as input)."),
    resamples: int = typer.Option(1000, "--resamples", min=100, help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the resampling (same seed, same intervals)."),
    report: Path | None = _REPORT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Score two models on the same dataset version with paired bootstrap intervals; exits with
    status 3 when the candidate is significantly worse."""
    from shipyard.client import Client
    from shipyard.delivery import compare_models
    from shipyard.delivery._markdown import check_report_path

    if report is not None:
        check_report_path(report)
    with console_err.status(f"Scoring {candidate} and {baseline} on {data}"), Client() as client:
        result = compare_models(client, candidate, baseline, data, metric=metric, target=target,
                                resamples=resamples, seed=seed)
    _emit(result.to_markdown(), result.to_json(), report, as_json)
    if result.verdict == "worse":
        raise typer.Exit(ExitCode.CHECK_FAILED)
