"""What a run records about where it ran: Python, packages, git state, entry point."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["capture_environment"]


@functools.cache
def _packages() -> dict[str, str]:
    # Installed distributions do not change while a process runs; read them once.
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = dist.version
    return dict(sorted(found.items()))


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git_state(cwd: Path) -> dict[str, Any] | None:
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {"commit": commit, "dirty": bool(status), "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)}


def capture_environment(cwd: Path | None = None) -> dict[str, Any]:
    """A JSON-able description of the running process's environment.

    Keys: ``python``, ``platform``, ``entry_point``, ``packages`` (name → version),
    ``git`` (``commit``, ``dirty``, ``branch``; None outside a repository).
    """
    entry = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    cwd = cwd or (entry.resolve().parent if entry and entry.is_file() else Path.cwd())
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "entry_point": str(entry) if entry else None,
        "argv": sys.argv[1:],
        "packages": _packages(),
        "git": _git_state(cwd),
    }
