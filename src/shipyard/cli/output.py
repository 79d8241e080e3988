"""How the CLI writes: rich on a terminal, plain text in a pipe, JSON on request.

On a terminal, tables are rich tables. When stdout is not a terminal (a pipe, a
file, CI logs), the same calls write plain text: a table is its title, a header and
one line per row, columns aligned with two spaces, nothing wrapped or cut; panels
and rules become plain lines. ``--json`` writes one JSON document with
:func:`print_json`.

>>> console.print(table("Runs", ["run id", "status"], [["4f2a…", "FINISHED"]]))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import typer
from rich.console import Console, ConsoleRenderable, Group, RenderHook
from rich.panel import Panel
from rich.protocol import is_renderable, rich_cast
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

__all__ = ["JSON_OPTION", "console", "console_err", "fmt_time", "fmt_value", "print_json", "table", "to_plain"]

JSON_OPTION: Any = typer.Option(False, "--json", help="Print one JSON document instead of tables.")


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
    """A table of ``rows`` under ``columns``; cells are shown as written (no markup), except
    :class:`rich.text.Text` cells, which keep their style."""
    out = Table(title=title, header_style="bold")
    for col in columns:
        if col in _WHOLE:
            out.add_column(col, no_wrap=True, min_width=_WHOLE[col])
        else:
            out.add_column(col, overflow="fold")
    for row in rows:
        out.add_row(*(v if isinstance(v, Text) else Text(fmt_value(v)) for v in row))
    return out


def _cell_text(cell: object) -> str:
    text = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain
    return " ".join(text.splitlines())  # one row, one line


def _plain_table(data: Table) -> list[str]:
    columns = [[_cell_text(c.header), *(_cell_text(cell) for cell in c.cells)] for c in data.columns]
    widths = [max(len(cell) for cell in column) for column in columns]
    lines = [] if data.title is None else [_cell_text(data.title)]
    for row in zip(*columns, strict=True):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return lines


def to_plain(renderable: Any, console: Console) -> list[ConsoleRenderable]:
    """``renderable`` without box drawing: tables as aligned plain lines, panels as their
    title and body, rules as ``==> title <==``; groups are flattened, the rest kept."""
    renderable = rich_cast(renderable)
    if isinstance(renderable, str):
        return [console.render_str(renderable)]
    if isinstance(renderable, Table):
        return [Text(line) for line in _plain_table(renderable)]
    if isinstance(renderable, Group):
        return [part for item in renderable.renderables for part in to_plain(item, console)]
    if isinstance(renderable, Panel):
        title = [] if renderable.title is None else [Text(f"==> {_cell_text(renderable.title)} <==")]
        return title + to_plain(renderable.renderable, console)
    if isinstance(renderable, Rule):
        return [Text(f"==> {_cell_text(renderable.title)} <==" if renderable.title else "")]
    if not is_renderable(renderable):
        return [Text(str(renderable))]
    return [renderable]  # type: ignore[list-item]


class _PlainWhenPiped(RenderHook):
    """Rewrites what a console prints with :func:`to_plain` unless it writes to a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        if self.console.is_terminal:
            return renderables
        return [part for item in renderables for part in to_plain(item, self.console)]


def _console(stderr: bool = False) -> Console:
    made = Console(stderr=stderr)
    if not made.is_terminal:
        made.soft_wrap = True  # a line longer than the (assumed) width stays one line, uncut
        made.push_render_hook(_PlainWhenPiped(made))
    return made


console = _console()
console_err = _console(stderr=True)


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), (str, int)):
        return value.value  # enums
    return str(value)


def print_json(data: Any) -> None:
    """Write ``data`` to stdout as one indented JSON document (non-finite floats as null)."""
    text = orjson.dumps(data, default=_default,
                        option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    console.file.write(text.decode() + "\n")
    console.file.flush()
