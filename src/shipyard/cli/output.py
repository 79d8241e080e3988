"""Shared rich consoles and table helpers for the CLI."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

__all__ = ["console", "console_err", "fmt_time", "fmt_value", "table"]

console = Console()
console_err = Console(stderr=True)


def fmt_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


# Identifiers a user copies whole: never wrapped across lines.
_WHOLE = {"run id": 32}


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    out = Table(title=title, header_style="bold")
    for col in columns:
        if col in _WHOLE:
            out.add_column(col, no_wrap=True, min_width=_WHOLE[col])
        else:
            out.add_column(col, overflow="fold")
    for row in rows:
        out.add_row(*(fmt_value(v) for v in row))
    return out
