"""``shipyard features check-skew``: online values against the offline path as of now."""

from __future__ import annotations

import typer

from shipyard.cli.exit_codes import ExitCode
from shipyard.cli.output import console, print_json

__all__ = ["check_skew"]


def check_skew(
    view: str = typer.Argument(..., help="The feature view to check."),
    sample: int = typer.Option(1000, "--sample", "-n", min=1,
                               help="Entities drawn from the online store (and as many from the source)."),
    tolerance: float = typer.Option(1e-9, min=0.0,
                                    help="Numbers match within tolerance × max(1, |offline value|)."),
    top: int = typer.Option(5, min=0, help="Largest differences shown per feature."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    fail: bool = typer.Option(False, "--fail", help="Exit with status 3 when any value differs or is missing."),
) -> None:
    """Sample entities, recompute their offline values as of now, compare with the online store."""
    from shipyard.client import Client
    from shipyard.features import check_skew as run_check

    with Client() as client:
        report = run_check(client.features, view, sample=sample, tolerance=tolerance, top=top)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(report)
    if fail and not report.ok:
        raise typer.Exit(ExitCode.CHECK_FAILED)
