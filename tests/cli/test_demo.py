"""``shipyard demo``: what it needs, where it leaves its files, how it says to look at them."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from shipyard.cli.demo.command import REQUIRES, shipyard_command

ROOT = Path(__file__).resolve().parents[2]
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def _env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_") and k != "COLUMNS"}
    return clean | {"SHIPYARD_HOME": str(home), "COLUMNS": "200"}


def test_the_demo_extra_installs_every_module_the_demo_needs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    declared = {requirement.split(">")[0].split("=")[0].split("[")[0].strip() for requirement in extras["demo"]}
    assert set(REQUIRES.values()) <= declared
    assert any("demo" in requirement for requirement in extras["dev"])  # the development set runs the demo too


def test_demo_without_its_extra_names_the_pip_install_before_any_stage(tmp_path: Path) -> None:
    hide = ";".join(f"sys.modules[{module!r}] = None" for module in REQUIRES)
    code = f"import sys; {hide}; sys.argv = ['shipyard', 'demo']; from shipyard.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "MissingExtra" in done.stderr and "pip install 'shipyard[demo]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Version the data" not in done.stdout  # refused up front, not half-way
    assert not (tmp_path / "shipyard.db").exists()


@pytest.mark.slow
def test_demo_keeps_its_files_under_the_home_and_prints_where_they_are(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run([SHIPYARD, "demo", "--runs", "2", "--epochs", "3", "--requests", "40"],
                          env=_env(home), cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    (folder,) = (home / "demo").iterdir()
    for name in ("monitor-report.html", "monitor-report.json", "customer_stats.parquet"):
        assert (folder / name).is_file()
        assert name in done.stdout
    assert str(folder) in done.stdout.replace("\n", "")
    assert "shipyard runs list demo-" in done.stdout  # `shipyard`, `./dev shipyard` or a full path


def _fake_checkout(tmp_path: Path) -> Path:
    (tmp_path / "dev").write_text("")
    executable = tmp_path / ".venv" / "bin" / "shipyard"
    executable.parent.mkdir(parents=True)
    executable.write_text("")
    return executable


def test_closing_command_is_dev_shipyard_for_a_checkout_venv_off_the_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_checkout(tmp_path)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.chdir(tmp_path)
    assert shipyard_command() == "./dev shipyard"
    monkeypatch.chdir(tmp_path / "..")
    assert shipyard_command() == f"{tmp_path.name}/dev shipyard"
    monkeypatch.chdir(tmp_path / ".venv")
    assert shipyard_command() == f"{tmp_path / 'dev'} shipyard"


def test_closing_command_is_plain_shipyard_when_it_is_the_one_on_the_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable = _fake_checkout(tmp_path)
    executable.chmod(0o755)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    monkeypatch.setenv("PATH", str(executable.parent))
    assert shipyard_command() == "shipyard"
