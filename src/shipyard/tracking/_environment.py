"""What a run records about where it ran: Python, packages, git state, entry point."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

__all__ = ["capture_environment"]


@functools.cache
def _packages() -> dict[str, str]:
    # Installed distributions do not change while a process runs; read them once.
    from importlib import metadata  # imported here: capturing runs off the caller's path

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist.read_text("METADATA") or dist.read_text("PKG-INFO") or "")
        if name and version:
            found[name.lower()] = version
    return dict(sorted(found.items()))


def _name_and_version(text: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the headers of a core metadata file.

    Reading two headers by hand is some 20 times faster than ``dist.metadata``, which
    parses every file whole as an e-mail message; with hundreds of distributions
    installed that parse took half a second.
    """
    name = version = None
    for line in text.splitlines():
        if not line:  # the headers end at the first blank line
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            break
    return name, version


def _git(args: list[str], cwd: Path) -> str | None:
    import subprocess

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
    import platform

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
