"""The ``dev`` script: which extras each command installs into ``.venv``, and when.

Runs the real script in a copy of the checkout's layout whose ``.venv`` holds stand-ins for
``python`` and ``shipyard`` that record how they were called, so nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RECORDER = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$(dirname "$0")/../calls.log"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "dev", tmp_path / "dev")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "services.sh").write_text("#!/usr/bin/env bash\n")
    (tmp_path / "scripts" / "services.sh").chmod(0o755)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "shipyard", "ruff", "mypy", "lint-imports"):
        (bin_dir / name).write_text(RECORDER)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def dev(checkout: Path, *args: str) -> tuple[list[str], str]:
    """Run ``dev ARGS`` from ``checkout``; the calls it made (and clears them), and its stderr."""
    done = subprocess.run([str(checkout / "dev"), *args], cwd=checkout, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SHELL": "/bin/true"})
    assert done.returncode == 0, done.stderr
    log = checkout / ".venv" / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls, done.stderr


def installs(calls: list[str]) -> list[str]:
    return [call.rsplit(" ", 1)[-1] for call in calls if " pip install " in call and " -e " in call]


def test_demo_installs_only_the_runtime_extra_and_says_so(checkout: Path) -> None:
    calls, said = dev(checkout, "demo", "--runs", "2")
    assert installs(calls) == [".[demo]"]
    assert calls[-1] == "shipyard demo --runs 2"
    assert "installing shipyard[demo] into .venv (runtime only:" in said
    assert "installed shipyard[demo] in" in said


def test_demo_installs_nothing_the_second_time(checkout: Path) -> None:
    dev(checkout, "demo")
    calls, said = dev(checkout, "demo")
    assert calls == ["shipyard demo"] and said == ""


def test_test_after_demo_adds_the_development_set_then_demo_needs_nothing_more(checkout: Path) -> None:
    dev(checkout, "demo")
    calls, _ = dev(checkout, "test", "-x")
    assert installs(calls) == [".[dev]"]
    assert calls[-1] == "python -m pytest -n 2 -x"
    calls, _ = dev(checkout, "demo")
    assert installs(calls) == []
    calls, _ = dev(checkout, "test")
    assert installs(calls) == []


def test_a_changed_pyproject_reinstalls(checkout: Path) -> None:
    dev(checkout, "demo")
    with (checkout / "pyproject.toml").open("a") as file:
        file.write("\n# changed\n")
    calls, _ = dev(checkout, "demo")
    assert installs(calls) == [".[demo]"]


def test_shipyard_runs_the_venv_command_from_the_callers_folder(checkout: Path) -> None:
    elsewhere = checkout / "work"
    elsewhere.mkdir()
    done = subprocess.run([str(checkout / "dev"), "shipyard", "runs", "list", "churn"], cwd=elsewhere,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = (checkout / ".venv" / "calls.log").read_text().splitlines()
    assert calls[-1] == "shipyard runs list churn"
    assert installs(calls) == [".[demo]"]


def test_shell_starts_the_users_shell_with_the_venv_first_on_the_path(checkout: Path) -> None:
    shell = checkout / "fake-shell"
    shell.write_text('#!/usr/bin/env bash\necho "$PATH" > "$(dirname "$0")/path.txt"\n')
    shell.chmod(0o755)
    done = subprocess.run([str(checkout / "dev"), "shell"], cwd=checkout, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "SHELL": str(shell)})
    assert done.returncode == 0, done.stderr
    assert (checkout / "path.txt").read_text().split(":")[0] == str(checkout / ".venv" / "bin")
