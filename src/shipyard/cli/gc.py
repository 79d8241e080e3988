"""``shipyard gc``: purge runs deleted long ago, then the blobs no record references."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from shipyard.cli.output import JSON_OPTION, console, print_json, table
from shipyard.config import load_config
from shipyard.errors import ConfigError

__all__ = ["gc", "parse_duration"]

_DURATION = re.compile(r"([0-9]+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, option: str = "--older-than") -> timedelta:
    """``30d``, ``12h``, ``15m``, ``0s`` or ``2w`` as a timedelta; anything else is a usage
    error naming ``option`` (exit status 2).

    >>> parse_duration("12h")
    datetime.timedelta(seconds=43200)
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter(
            f"expected a whole number and a unit (s, m, h, d or w), such as 30d, 12h or 0s; got {text!r}",
            param_hint=f"'{option}'",
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed; remove nothing."),
    older_than: str = typer.Option("30d", "--older-than", metavar="DURATION",
                                   help="Purge runs deleted at least this long ago: 30d, 12h, 0s."),
    grace: str = typer.Option("24h", "--grace", metavar="DURATION",
                              help="Keep unreferenced blobs written within this long: a blob not yet "
                                   "recorded by a writer still at work."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Hard-delete runs deleted longer ago than --older-than, then remove the artifact blobs
    no run, model version or dataset version references.

    Works on the configured database and artifact store directly (not through SHIPYARD_URL);
    the artifact store must belong to this database alone, since blobs another database
    references look unreferenced here. Safe while others log runs and register models: a
    blob written within --grace is kept, so --grace must exceed the longest time between
    storing a file and recording it (a large dataset upload). Do not register datasets that
    reuse stored files while it runs. Try --dry-run first.
    """
    retention = parse_duration(older_than, "--older-than")
    young = parse_duration(grace, "--grace")
    config = load_config()
    if config.url:
        raise ConfigError(
            f"shipyard gc works on the database and artifact store directly, but the configuration points "
            f"at the server {config.url}; run it with the server's configuration", field="url")
    from shipyard.store import Database, collect_garbage
    from shipyard.store.artifacts import open_artifact_store

    db = Database(config.database_url)
    try:
        db.ensure_schema()
        store = open_artifact_store(config.artifacts_uri, s3_endpoint_url=config.s3_endpoint_url)
        report = collect_garbage(db, store, older_than=retention, grace=young, dry_run=dry_run)
    finally:
        db.dispose()
    if as_json:
        print_json({"dry_run": report.dry_run, "runs": list(report.runs),
                    "blobs": [{"digest": b.digest, "size": b.size} for b in report.blobs],
                    "bytes_freed": report.bytes_freed, "kept_young": report.kept_young})
        return
    if dry_run:
        if report.runs:
            console.print(table("Runs that would be purged", ["run id"], [[r] for r in report.runs]))
        if report.blobs:
            console.print(table("Blobs that would be removed", ["digest", "size"],
                                [[b.digest, b.size] for b in report.blobs]))
    verb = ("would purge", "would remove", "would free") if dry_run else ("purged", "removed", "freed")
    console.print(f"{verb[0]} {_count(len(report.runs), 'run')}; {verb[1]} {_count(len(report.blobs), 'blob')}, "
                  f"{verb[2]} {_size(report.bytes_freed)}; kept {_count(report.kept_young, 'unreferenced blob')} "
                  f"younger than --grace {grace}", highlight=False)
