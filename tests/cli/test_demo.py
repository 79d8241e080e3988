"""``shipyard demo``: what it needs, where it leaves its files, how it says to look at them."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from shipyard.cli.demo.command import REQUIRES, shipyard_command

pytestmark = pytest.mark.xdist_group("demo")  # the demo runs once, on one worker, for every test that reads it

ROOT = Path(__file__).resolve().parents[2]
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


# What the development set adds to `shipyard[demo]`: the demo, run by `./dev demo` on a
# venv without them, must never import one (it once imported pytest through shipyard.testing).
DEV_ONLY = ("pytest", "_pytest", "hypothesis", "moto", "aiosmtpd", "schemathesis", "playwright", "xgboost",
            "lightgbm", "torch", "keras", "lightning", "optuna", "ray", "mlflow", "onnx", "onnxruntime",
            "psycopg", "s3fs", "redis", "authlib", "polars", "matplotlib")
# A sitecustomize on PYTHONPATH hides them in the demo and in every process it starts.
HIDE_DEV_ONLY = """
import sys


class _Hidden:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Hidden())
"""


def _env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_") and k != "COLUMNS"}
    return clean | {"SHIPYARD_HOME": str(home), "COLUMNS": "200"}


def _runtime_only_env(home: Path, folder: Path) -> dict[str, str]:
    """``_env`` where the development set's modules cannot be imported, as in `./dev demo`'s venv."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(HIDE_DEV_ONLY.format(names=DEV_ONLY))
    return _env(home) | {"PYTHONPATH": str(folder)}


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


@pytest.fixture(scope="module")
def finished_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, subprocess.CompletedProcess[str]]:
    """One whole demo with ``--no-serve`` in a fresh home: the home, the demo's stamp and the process."""
    tmp_path = tmp_path_factory.mktemp("demo")
    home = tmp_path / "home"
    done = subprocess.run([SHIPYARD, "demo", "--runs", "2", "--epochs", "3", "--requests", "40", "--no-serve"],
                          env=_runtime_only_env(home, tmp_path / "runtime-only"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (folder,) = (home / "demo").iterdir()
    return home, folder.name, done


@pytest.mark.slow
def test_demo_keeps_its_files_under_the_home_and_prints_where_they_are(
        finished_demo: tuple[Path, str, subprocess.CompletedProcess[str]]) -> None:
    home, stamp, done = finished_demo
    folder = home / "demo" / stamp
    for name in ("monitor-report.html", "monitor-report.json", "customer_stats.parquet", "ct-policy.yaml",
                 "ct-policy-broken.yaml"):
        assert (folder / name).is_file()
        assert name in done.stdout
    assert str(folder) in done.stdout.replace("\n", "")
    assert "shipyard runs list demo-" in done.stdout  # `shipyard`, `./dev shipyard` or a full path
    # The stages honour their options: --runs 2 and --requests 40.
    assert "tracked 2 runs" in done.stdout
    assert "posted 40 labels" in done.stdout and "all cached" in done.stdout


@pytest.mark.slow
def test_demo_leaves_every_stage_in_the_stores_and_its_policy_retrains_promotes_and_stops_a_broken_retrain(
        finished_demo: tuple[Path, str, subprocess.CompletedProcess[str]]) -> None:
    from shipyard import Client, Config

    home, stamp, _ = finished_demo
    with Client(Config(home=home)) as client:
        # Data, sweep and the retraining pipeline: dataset versions and tracked runs.
        assert len(client.list_dataset_versions(f"demo-data-{stamp}")) == 2
        sweep = client.search_runs(f"demo-{stamp}", filter="tags.demo = 'sweep'").items
        assert len(sweep) == 2
        # The registry: the sweep's two versions and the retrained one; @production moved to it.
        model = f"demo-churn-{stamp}"
        assert len(client.search_model_versions(model)) == 3
        moves = [(e.after or {}).get("version") for e in client.model_history(model) if e.action == "set_alias"]
        assert len(moves) >= 3 and client.get_model_version_by_alias(model, "production").version == 3
        # Monitoring saw the drift of the shifted traffic.
        drift = [p.value for p in client.query_series(f"demo-{stamp}", "drift_share")]
        assert drift and max(drift) > 0.2

        # Continuous training: one run promoted its challenger, the broken one never reached production.
        ct = f"demo-ct-{stamp}"
        runs = sorted(client.automation.list_runs(ct), key=lambda r: r.started_at)
        assert [r.state for r in runs][0] == "promoted" and len(runs) == 2, [(r.state, r.reason) for r in runs]
        assert runs[1].state in ("rejected", "rolled_back"), runs[1].reason
        promoted = int(runs[0].evidence["challenger_version"])
        assert client.get_model_version_by_alias(ct, "production").version == promoted
        assert int(runs[1].evidence["challenger_version"]) != promoted
        assert len(client.list_dataset_versions(f"demo-ct-labelled-{stamp}")) >= 2  # each retrain's labelled window
        drop = [p.value for p in client.query_series(ct, "accuracy") if p.value is not None]
        assert drop and min(drop) < 0.75  # what triggered the first run

        (loop,) = client.search_runs(f"demo-{stamp}", filter="tags.demo = 'continuous-training'").items
        metrics = {k: m.value for k, m in loop.metrics.items()}
        assert metrics["failed_requests"] == 0 and metrics["requests_served"] > 1000
        assert metrics["accuracy_after_promotion"] > metrics["accuracy_after_drift"] + 0.15


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
