"""Every Python snippet of the README runs as written: in order, in one empty folder, on the defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_snippets() -> list[str]:
    """The README's ```python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def run_snippet(code: str, folder: Path, name: str) -> subprocess.CompletedProcess[str]:
    """``python NAME`` holding ``code`` in ``folder``, with no SHIPYARD_* variable (home: ./.shipyard)."""
    (folder / name).write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    return subprocess.run([sys.executable, name], cwd=folder, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_every_python_snippet_of_the_readme_runs_as_written(tmp_path: Path) -> None:
    snippets = readme_snippets()
    assert len(snippets) >= 7
    for i, code in enumerate(snippets):
        done = run_snippet(code, tmp_path, f"snippet_{i}.py")
        assert done.returncode == 0, f"snippet {i}:\n{code}\n{done.stderr[-3000:]}"
    assert (tmp_path / ".shipyard" / "shipyard.db").is_file()
