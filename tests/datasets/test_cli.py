"""``shipyard data add|list|show|pull|diff|infer|validate`` as a real subprocess."""

from __future__ import annotations

from pathlib import Path

from shipyard.testing.datasets import small_frame
from tests.cli.test_cli import run_cli


def test_data_commands_end_to_end(tmp_path: Path) -> None:
    small_frame().to_csv(tmp_path / "v1.csv", index=False)
    small_frame(shift=300.0).to_csv(tmp_path / "v2.csv", index=False)
    added = run_cli(tmp_path, "data", "add", "churn", str(tmp_path / "v1.csv"), "--tag", "team=growth")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("churn@1") and "50 rows" in added.stdout
    assert run_cli(tmp_path, "data", "add", "churn", str(tmp_path / "v1.csv")).stdout.startswith("churn@1")
    assert run_cli(tmp_path, "data", "add", "churn", str(tmp_path / "v2.csv")).stdout.startswith("churn@2")
    listed = run_cli(tmp_path, "data", "list")
    assert "churn" in listed.stdout and " 2 " in listed.stdout
    assert run_cli(tmp_path, "data", "list", "churn").stdout.count("csv") == 2
    shown = run_cli(tmp_path, "data", "show", "churn@1")
    assert "team" in shown.stdout and "spend" in shown.stdout and "basic:" in shown.stdout
    assert '"num_rows": 50' in run_cli(tmp_path, "data", "show", "churn@1", "--json").stdout
    diffed = run_cli(tmp_path, "data", "diff", "churn@1", "churn@2")
    assert diffed.returncode == 0 and "spend" in diffed.stdout and "yes" in diffed.stdout
    pulled = run_cli(tmp_path, "data", "pull", "churn@1", str(tmp_path / "out"))
    assert pulled.returncode == 0 and (tmp_path / "out" / "v1.csv").read_bytes() == (tmp_path / "v1.csv").read_bytes()
    assert run_cli(tmp_path, "data", "infer", "churn@1", "-o", str(tmp_path / "c.yaml")).returncode == 0
    assert run_cli(tmp_path, "data", "validate", "churn@1", str(tmp_path / "c.yaml")).returncode == 0
    failed = run_cli(tmp_path, "data", "validate", "churn@2", str(tmp_path / "c.yaml"))
    assert failed.returncode == 3 and "spend: max" in failed.stdout  # a failed check, not an error


def test_bad_input_is_one_clear_error_line(tmp_path: Path) -> None:
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    done = run_cli(tmp_path, "data", "add", "churn", str(tmp_path / "ragged.csv"))
    assert done.returncode == 1
    assert "InvalidInput" in done.stderr and "ragged.csv" in done.stderr and "Expected 2 columns" in done.stderr
    missing = run_cli(tmp_path, "data", "show", "nope@1")
    assert missing.returncode == 1 and "NotFound" in missing.stderr
