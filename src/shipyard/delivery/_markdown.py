"""Markdown for pull-request comments, and writing a report file whole or not at all.

GitHub and GitLab render the same subset: a heading, bold text and pipe tables. A
cell never holds a line break or an unescaped ``|``, so a detail copied from an
error message cannot break the table.

>>> print(table(["gate", "result"], [["auc >= 0.8", "pass"]]))
| gate | result |
|---|---|
| auc >= 0.8 | pass |
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from shipyard.errors import InvalidInput

__all__ = ["cell", "check_report_path", "table", "write_report"]


def cell(value: object) -> str:
    """``value`` as one table cell: one line, pipes escaped."""
    text = " ".join(str(value).split())
    return text.replace("|", "\\|") or " "


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A pipe table of ``rows`` under ``headers``."""
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def check_report_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a report file to write: not a folder, in a folder that exists. Checked
    before the work, so a bad path fails fast."""
    target = Path(path)
    if target.is_dir():
        raise InvalidInput(f"--report {target} is a folder; name a file such as {target / 'report.md'}",
                           field="report")
    if not target.parent.is_dir():
        raise InvalidInput(f"--report {target}: folder {target.parent} does not exist", field="report")
    return target


def write_report(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file beside it, so a reader (or a
    failed run) never sees half a report. The folder must exist."""
    target = check_report_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
