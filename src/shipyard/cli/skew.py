"""``shipyard features check-skew``: online values against the offline path as of now."""

from __future__ import annotations

import sys

import orjson
import typer

from shipyard.cli.output import console

__all__ = ["check_skew"]


def check_skew(
    view: str = typer.Argument(..., help="The feature view to check."),
    sample: int = typer.Option(1000, "--sample", "-n", min=1,
                               help="Entities drawn from the online store (and as many from the source)."),
    tolerance: float = typer.Option(1e-9, min=0.0,
                                    help="Numbers match within tolerance × max(1, |offline value|)."),
    top: int = typer.Option(5, min=0, help="Largest differences shown per feature."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    fail: bool = typer.Option(False, "--fail", help="Exit with status 1 when any value differs or is missing."),
) -> None:
    """Sample entities, recompute their offline values as of now, compare with the online store."""
    from shipyard.features import FeatureStore
    from shipyard.features import check_skew as run_check

    with FeatureStore() as store:
        report = run_check(store, view, sample=sample, tolerance=tolerance, top=top)
    if as_json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        console.print(report)
    if fail and not report.ok:
        raise typer.Exit(1)
