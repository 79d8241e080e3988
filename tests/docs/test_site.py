"""The documentation site builds strictly, and its CLI reference matches the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard.cli.main import app, walk

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).with_name("mkdocs")


def cli_reference() -> str:
    """The Markdown of the CLI reference page, as the site build writes it."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_reference.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def referenced_commands(markdown: str) -> list[tuple[str, ...]]:
    """The command paths of the reference's headings: ``## `shipyard models show` `` → ("models", "show")."""
    return [tuple(m.split()[1:]) for m in re.findall(r"^## `(shipyard[^`]*)`$", markdown, re.M)]


@pytest.mark.slow
def test_mkdocs_builds_strictly_with_no_broken_link(tmp_path: Path) -> None:
    done = subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={"NO_MKDOCS_2_WARNING": "1",
                                                                          "PATH": f"{MKDOCS.parent}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-4000:]
    site = tmp_path / "site"
    assert (site / "reference" / "cli" / "index.html").is_file()
    assert "shipyard models show" in (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert 'id="shipyard.start_run"' in (site / "reference" / "python" / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in (site / "index.html").read_text(encoding="utf-8")


def test_the_cli_reference_names_every_command_once() -> None:
    listed = referenced_commands(cli_reference())
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(path for path, _ in walk())


def test_every_command_in_the_cli_reference_answers_help() -> None:
    runner = CliRunner()
    failed = {}
    for path in referenced_commands(cli_reference()):
        result = runner.invoke(app, [*path, "--help"], prog_name="shipyard")
        if result.exit_code != 0 or "Usage: shipyard" not in result.output:
            failed[" ".join(path)] = (result.exit_code, result.output[-500:])
    assert not failed, failed
