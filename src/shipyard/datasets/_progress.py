"""Progress of long registrations: a tiny reporter interface and a rich progress bar.

The registration pipeline calls a :class:`Reporter`; :func:`reporter_for` picks a
rich bar on an interactive terminal for large work and a silent one otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["QUIET", "Reporter", "RichReporter", "reporter_for"]

_LARGE_FILES = 1000
_LARGE_BYTES = 256 << 20


class Reporter(Protocol):
    """Receives the phases of a registration and how far each has got."""

    def phase(self, label: str, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...

    def close(self) -> None: ...


class _Quiet:
    def phase(self, label: str, total: int) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


QUIET: Reporter = _Quiet()


class RichReporter:
    """A rich progress bar on stderr, one task per phase."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=Console(stderr=True), transient=False)
        self._progress.start()
        self._task: Any = None

    def phase(self, label: str, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total)
        self._task = self._progress.add_task(label, total=max(total, 1))

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def close(self) -> None:
        self._progress.stop()


def reporter_for(progress: bool | Reporter | None, files: int, size: Callable[[], int]) -> Reporter:
    """``True``: a bar; ``False``: silent; ``None``: a bar only on a terminal for large work
    (``size`` is asked only then)."""
    if progress is None:
        progress = sys.stderr.isatty() and (files >= _LARGE_FILES or size() >= _LARGE_BYTES)
    if progress is True:
        return RichReporter()
    if progress is False:
        return QUIET
    return progress
