"""``shipyard data add|list|show|pull|diff|infer|validate``"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from shipyard.cli.exit_codes import ExitCode
from shipyard.cli.output import JSON_OPTION, console, console_err, fmt_time, fmt_value, print_json, table
from shipyard.client import Client
from shipyard.datasets._text import counted
from shipyard.errors import InvalidInput

app = typer.Typer(help="Versioned datasets: register, inspect, compare, pull, check.", no_args_is_help=True)

_QUANTILES = (0.01, 0.5, 0.99)


def _size(num: int) -> str:
    size = float(num)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


@app.command("add")
def add(name: str = typer.Argument(..., help="Dataset name"),
        source: str = typer.Argument(..., help="A Parquet or CSV file, a folder, or s3://bucket/prefix"),
        description: str | None = typer.Option(None),
        contract: Path | None = typer.Option(None, "--contract", exists=True, dir_okay=False,
                                             help="YAML contract the data must pass"),
        tag: list[str] | None = typer.Option(None, "--tag", help="key=value, repeatable"),
        progress: bool | None = typer.Option(None, "--progress/--no-progress",
                                             help="Progress bars (default: for large work on a terminal).")) -> None:
    """Register SOURCE as a new version of NAME (the same content gives back its version).

    With --contract, data that breaks the contract is refused (exit status 3), even
    content registered before.
    """
    tags = {}
    for item in tag or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--tag takes key=value, got {item!r}", field="tag")
        tags[key] = value
    with Client() as client:
        try:
            version = client.register_dataset(name, source, description=description, tags=tags,
                                              contract=contract, progress=progress)
        except InvalidInput as exc:
            if getattr(exc, "report", None) is None:  # bad input, not data the contract refused
                raise
            console_err.print(f"[red]error:[/red] {escape(f'{type(exc).__name__}: {exc}')}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(ExitCode.CHECK_FAILED) from None
    rows = f", {counted(version.num_rows, 'row')}" if version.num_rows is not None else ""
    console.print(f"{version.ref}  {version.digest[:12]}  {counted(version.num_files, 'file')}, "
                  f"{_size(version.num_bytes)}{rows}")


@app.command("list")
def list_(name: str | None = typer.Argument(None, help="List this dataset's versions"),
          as_json: bool = JSON_OPTION) -> None:
    """List datasets, or the versions of one."""
    from shipyard.datasets import codec

    with Client() as client:
        if name is None:
            datasets = client.list_datasets()
            if as_json:
                print_json({"items": [codec.dataset_to_json(d) for d in datasets]})
                return
            rows = [[d.name, d.latest_version, fmt_time(d.updated_at)] for d in datasets]
            console.print(table("Datasets", ["name", "latest", "updated"], rows))
            return
        versions = client.list_dataset_versions(name)
        if not versions:  # a dataset exists once it has a version: say so rather than list nothing
            client.get_dataset_version(f"{name}@latest")
    if as_json:  # the profiles are left to "data show": a list stays small
        print_json({"items": [{**codec.version_to_json(v), "profile": None} for v in versions]})
        return
    console.print(table(f"Versions of {name}", ["version", "hash", "format", "files", "size", "rows", "created"], [
        [v.version, v.digest[:12], v.format, v.num_files, _size(v.num_bytes), v.num_rows, fmt_time(v.created_at)]
        for v in versions]))


@app.command("show")
def show(ref: str = typer.Argument(..., help="name, name@3, name@latest or a hash"),
         as_json: bool = typer.Option(False, "--json", help="Print the version with its full profile as JSON.")
         ) -> None:
    """Show a version: where it came from, its schema and its profile."""
    with Client() as client:
        version = client.get_dataset_version(ref)
    if as_json:
        from shipyard.datasets import codec

        print_json(codec.version_to_json(version))
        return
    console.print(table(version.ref, ["field", "value"], [
        ["hash", version.digest], ["format", version.format], ["files", version.num_files],
        ["size", _size(version.num_bytes)], ["rows", version.num_rows], ["source", version.source],
        ["run", version.run_id], ["user", version.user], ["created", fmt_time(version.created_at)],
        ["description", version.description],
        *[[f"tag {k}", v] for k, v in sorted(version.tags.items())]]))
    if version.profile is None:
        return
    rows = []
    for c in version.profile:
        spread = (" / ".join(fmt_value(c.quantile(q)) for q in _QUANTILES) if c.kind == "numeric"
                  else ", ".join(f"{v}:{n}" for v, n in (c.top or ())[:4]))
        rows.append([c.name, c.type, c.count, c.nulls + c.nan, c.distinct, c.min, c.max, c.mean, c.std, spread])
    console.print(table("Profile", ["column", "type", "count", "nulls", "distinct", "min", "max", "mean", "std",
                                    "p1 / p50 / p99 or top"], rows))


@app.command("pull")
def pull(ref: str, dest: Path = typer.Argument(..., help="Folder to copy the version's files into")) -> None:
    """Download a version's files (hash-checked) into DEST."""
    with Client() as client:
        target = client.pull_dataset(ref, dest)
    console.print(f"pulled {ref} into {target}")


@app.command("diff")
def diff(old: str = typer.Argument(..., help="e.g. churn@2"), new: str = typer.Argument(..., help="e.g. churn@3"),
         as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON.")) -> None:
    """Schema changes and per-column distribution shifts from OLD to NEW."""
    with Client() as client:
        result = client.diff_datasets(old, new)
    if as_json:
        print_json(result.to_json())
        return
    console.print(f"rows: {result.rows[0]:,} → {result.rows[1]:,}")
    for label, names in (("added", result.added), ("removed", result.removed)):
        if names:
            console.print(f"columns {label}: {', '.join(names)}")
    for column, before, after in result.retyped:
        console.print(f"column {column}: type {before} → {after}")
    console.print(table(f"{old} → {new}", ["column", "kind", "nulls", "mean", "PSI", "KS", "JS", "shifted"], [
        [c.name, c.kind, f"{c.null_fraction[0]:.1%} → {c.null_fraction[1]:.1%}",
         f"{fmt_value(c.mean[0])} → {fmt_value(c.mean[1])}" if c.kind == "numeric" else "-",
         c.psi, c.ks, c.js, "yes" if c.shifted else ""] for c in result.columns]))


@app.command("infer")
def infer(ref: str, output: Path | None = typer.Option(None, "-o", "--output", help="Write the YAML here.")) -> None:
    """Infer a contract (YAML) from a version's profile, to review and edit."""
    with Client() as client:
        text = client.infer_contract(ref).to_yaml()
    if output:
        output.write_text(text)
        console.print(f"wrote {output}")
    else:
        console.print(text, markup=False, highlight=False)


@app.command("validate")
def validate(ref: str, contract: Path = typer.Argument(..., exists=True, dir_okay=False, help="YAML contract")
             ) -> None:
    """Check a version against a contract; exits with status 3 on any violation."""
    with Client() as client:
        report = client.validate_dataset(ref, contract)
    console.print(str(report), markup=False, highlight=False)
    if not report.passed:
        raise typer.Exit(ExitCode.CHECK_FAILED)
