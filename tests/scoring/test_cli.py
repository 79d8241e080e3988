"""``shipyard predict``, run as a real subprocess on a home made in the test."""

from __future__ import annotations

import json
from pathlib import Path

from shipyard import Client
from tests.cli.test_cli import run_cli
from tests.scoring.conftest import features, register_model


def test_predict_scores_a_version_into_a_new_one_and_prints_the_result(tmp_path: Path) -> None:
    with Client(home=tmp_path) as client:
        register_model(client)
        frame = features(4_000, seed=8)
        frame.loc[3, "b"] = float("nan")
        client.register_dataset("customers", frame)
    done = run_cli(tmp_path, "predict", "models:/churn/1", "--input", "ds:customers@1", "--output",
                   "ds:customers-scored", "--workers", "1", "--batch-rows", "1000", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["output"], shown["rows"], shown["scored"], shown["rejected"]) == \
        ("ds:customers-scored@1", 4_000, 3_999, 1)
    assert shown["rejects"] == f"runs:/{shown['run_id']}/rejects.jsonl" and shown["executor"] == "local"


def test_predict_refuses_an_input_that_does_not_match_the_signature_naming_the_columns(tmp_path: Path) -> None:
    with Client(home=tmp_path) as client:
        register_model(client)
        client.register_dataset("wrong", features(100).rename(columns={"c": "d"}))
    done = run_cli(tmp_path, "predict", "models:/churn/1", "--input", "ds:wrong@1", "--output", "ds:out")
    assert done.returncode != 0
    assert "['c']" in done.stderr and "['d']" in done.stderr


def test_predict_with_a_model_that_does_not_exist_names_it(tmp_path: Path) -> None:
    with Client(home=tmp_path) as client:
        client.register_dataset("customers", features(100))
    done = run_cli(tmp_path, "predict", "models:/ghost/1", "--input", "ds:customers@1", "--output", "ds:out")
    assert done.returncode != 0 and "models:/ghost/1" in done.stderr
