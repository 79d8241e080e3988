"""The code blocks of the Markdown documentation, and the skip markers before them.

A fenced block whose language is ``python``, ``bash``, ``sh`` or ``console`` is runnable.
``<!-- skip: REASON -->`` on the line right before its fence (blank lines between allowed)
says why it cannot run in a test (a cluster, a registry, the network it needs); a marker
without a reason, or one that is followed by no runnable block, is a mistake in the page.
``<!-- file: NAME -->`` before a block (of any language) says the reader saves it as
NAME: it is written to that file in the page's folder instead of being run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "MarkerError", "blocks", "pages", "shell_commands"]

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = {"python", "bash", "sh", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>skip|file)\b(?P<rest>.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    """One runnable fenced block: where it is, its language, its code, why it is skipped,
    or the file it is saved as."""

    page: str
    line: int
    lang: str
    code: str
    skip: str | None = None
    file: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


class MarkerError(ValueError):
    """A skip marker without a reason, or one that no runnable block follows."""


def pages() -> list[Path]:
    """README.md and every Markdown file under docs/, sorted."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The runnable blocks of ``path`` in order; :class:`MarkerError` for a bad marker."""
    page = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    pending: tuple[int, str, str] | None = None  # (line, kind, value) of a marker waiting for its block
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        fence = FENCE.match(lines[i])
        if marker:
            kind, value = marker["kind"], marker["rest"].strip().removeprefix(":").strip()
            if not value or not marker["rest"].strip().startswith(":"):
                what = "a reason: <!-- skip: why -->" if kind == "skip" else "a name: <!-- file: train.py -->"
                raise MarkerError(f"{page}:{i + 1}: a {kind} marker needs {what}")
            if pending:
                raise MarkerError(f"{page}:{pending[0]}: {pending[1]} marker followed by no runnable block")
            pending = (i + 1, kind, value)
        elif fence:
            indent, close, lang = fence["indent"], fence["fence"], fence["lang"].lower()
            start = i + 1
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(close):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            if lang in RUNNABLE or (pending and pending[1] == "file"):
                skip = pending[2] if pending and pending[1] == "skip" else None
                file = pending[2] if pending and pending[1] == "file" else None
                found.append(Block(page, start, lang, "\n".join(body) + "\n", skip, file))
                pending = None
            elif pending:
                raise MarkerError(f"{page}:{pending[0]}: {pending[1]} marker followed by a {lang or 'plain'} block")
        elif pending and lines[i].strip():
            raise MarkerError(f"{page}:{pending[0]}: {pending[1]} marker followed by no runnable block")
        i += 1
    if pending:
        raise MarkerError(f"{page}:{pending[0]}: {pending[1]} marker followed by no runnable block")
    return found


def shell_commands(block: Block) -> str:
    """The shell script a block stands for: a console block's ``$ `` lines (and their
    continuation lines), any other shell block as it is."""
    if block.lang != "console":
        return block.code
    out: list[str] = []
    continuing = False
    for line in block.code.splitlines():
        if line.startswith("$ "):
            out.append(line[2:])
        elif continuing:
            out.append(line)
        else:
            continue
        continuing = line.endswith("\\")
    return "\n".join(out) + "\n"
