"""``shipyard data add|list|show|pull|diff|infer|validate`` as a real subprocess."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

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
    assert failed.stdout.startswith("1 violation of 10 rules on 50 rows:")


def test_bad_input_is_one_clear_error_line(tmp_path: Path) -> None:
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    done = run_cli(tmp_path, "data", "add", "churn", str(tmp_path / "ragged.csv"))
    assert done.returncode == 1
    assert "InvalidInput" in done.stderr and "ragged.csv" in done.stderr and "Expected 2 columns" in done.stderr
    missing = run_cli(tmp_path, "data", "show", "nope@1")
    assert missing.returncode == 1 and "NotFound" in missing.stderr


def _without_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.startswith("AWS_") and k != "AWS_CA_BUNDLE"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_an_s3_source_without_credentials_is_one_storage_error_line(
        s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_aws_credentials(monkeypatch, tmp_path)
    done = run_cli(tmp_path, "data", "add", "customers", "s3://no-such-bucket-xyz/prefix",
                   SHIPYARD_S3_ENDPOINT_URL=s3_server)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("error: StorageError: cannot read s3://no-such-bucket-xyz/prefix: no AWS credentials")
    assert "AWS_ACCESS_KEY_ID" in done.stderr and "s3_endpoint_url" in done.stderr


def test_an_unreachable_s3_endpoint_is_one_storage_error_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = run_cli(tmp_path, "data", "add", "customers", "s3://bucket/prefix",
                   SHIPYARD_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing-secret", AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("error: StorageError: cannot read s3://bucket/prefix: ")


@pytest.mark.parametrize("uri", ["s3://", "s3:///prefix"])
def test_an_s3_source_without_a_bucket_is_invalid_input_naming_the_source(tmp_path: Path, uri: str) -> None:
    done = run_cli(tmp_path, "data", "add", "customers", uri)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"error: InvalidInput: source {uri!r} names no bucket")


def test_a_contract_is_checked_even_when_the_content_is_already_registered(tmp_path: Path) -> None:
    (tmp_path / "feb.csv").write_text("id,age\n1,30\n2,40\n")
    (tmp_path / "contract.yaml").write_text("columns:\n  age: {type: int, max: 35}\n")
    assert run_cli(tmp_path, "data", "add", "customers", str(tmp_path / "feb.csv")).returncode == 0
    again = run_cli(tmp_path, "data", "add", "customers", str(tmp_path / "feb.csv"),
                    "--contract", str(tmp_path / "contract.yaml"))
    assert again.returncode == 3, again.stdout + again.stderr
    assert again.stdout == "" and "breaks its contract" in again.stderr and "age: max" in again.stderr


def test_data_that_breaks_its_contract_exits_3_like_data_validate(tmp_path: Path) -> None:
    (tmp_path / "feb.csv").write_text("id,age\n1,30\n2,40\n")
    (tmp_path / "contract.yaml").write_text("columns:\n  age: {type: int, max: 35}\n")
    refused = run_cli(tmp_path, "data", "add", "customers", str(tmp_path / "feb.csv"),
                      "--contract", str(tmp_path / "contract.yaml"))
    assert refused.returncode == 3 and "error: InvalidInput: data for 'customers' breaks its contract" in refused.stderr
    assert run_cli(tmp_path, "data", "list").stdout.count("customers") == 0  # nothing was stored
    assert "exit status 3" in run_cli(tmp_path, "data", "add", "--help").stdout
    (tmp_path / "notes.txt").write_text("not a table")  # a contract that cannot apply is an error, not a check
    misused = run_cli(tmp_path, "data", "add", "notes", str(tmp_path / "notes.txt"),
                      "--contract", str(tmp_path / "contract.yaml"))
    assert misused.returncode == 1 and "applies to tabular data" in misused.stderr


def test_an_unknown_contract_type_is_refused_as_a_bad_contract(tmp_path: Path) -> None:
    (tmp_path / "feb.csv").write_text("id,age\n1,30\n2,40\n")
    (tmp_path / "contract.yaml").write_text("columns:\n  age: {type: intt}\n")
    done = run_cli(tmp_path, "data", "add", "customers", str(tmp_path / "feb.csv"),
                   "--contract", str(tmp_path / "contract.yaml"))
    assert done.returncode == 1 and "violation" not in done.stderr
    assert "InvalidInput: column 'age': unknown type 'intt'" in done.stderr and "known types: int, float" in done.stderr


def test_counts_of_one_are_singular_in_data_commands(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("id,age\n1,40\n")
    (tmp_path / "contract.yaml").write_text("columns:\n  age: {type: int, max: 35}\n")
    added = run_cli(tmp_path, "data", "add", "customers", str(tmp_path / "one.csv"))
    assert added.returncode == 0 and "1 file," in added.stdout and "1 row" in added.stdout
    assert "1 files" not in added.stdout and "1 rows" not in added.stdout
    failed = run_cli(tmp_path, "data", "validate", "customers@1", str(tmp_path / "contract.yaml"))
    assert failed.returncode == 3 and failed.stdout.startswith("1 violation of 2 rules on 1 row:")
