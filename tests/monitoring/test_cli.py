"""``shipyard monitor …`` and the scheduler's monitor runs, as real subprocesses."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd

from shipyard import Client
from tests.cli.test_cli import run_cli
from tests.monitoring.conftest import T0, H, log_frame, reference_frame, truth, write_segments


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def setup_home(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    home = tmp_path / "home"
    hours = [log_frame(T0, 500, seed=1), log_frame(T0 + H, 500, seed=2, shift=15.0)]
    with Client(home=home) as client:
        client.register_dataset("churn-train", reference_frame())
        write_segments(client, pd.concat(hours, ignore_index=True))
    return home, hours[0]


def test_monitor_commands_end_to_end(tmp_path: Path) -> None:
    home, first = setup_home(tmp_path)
    created = run_cli(home, "monitor", "create", "churn@production", "--reference", "ds:churn-train@1", "--window",
                      "1h", "--label-column", "churned", "--start", iso(T0), "--delay", "0")
    assert created.returncode == 0, created.stderr
    assert "monitor churn@production" in created.stdout and "2026-01-01 00:00:00" in created.stdout
    assert "churn@production" in run_cli(home, "monitor", "list").stdout
    ran = run_cli(home, "monitor", "run", "--now", iso(T0 + 2 * H))
    assert ran.returncode == 0, ran.stderr
    assert "churn@production" in ran.stdout and "1000" in ran.stdout  # two windows, 1,000 rows
    assert "up to date" in run_cli(home, "monitor", "run", "--now", iso(T0 + 2 * H)).stdout
    shown = run_cli(home, "monitor", "show", "churn@production")
    assert shown.returncode == 0 and shown.stdout.count(" ok ") == 2 and "drift_share" in shown.stdout
    truth(first).to_csv(home / "labels.csv", index=False)
    uploaded = run_cli(home, "monitor", "labels", "upload", str(home / "labels.csv"), "--model", "churn")
    assert uploaded.returncode == 0 and "stored 500 labels" in uploaded.stdout
    relabelled = run_cli(home, "monitor", "run", "--now", iso(T0 + 3 * H))
    assert relabelled.returncode == 0 and " 1 " in relabelled.stdout
    report = run_cli(home, "monitor", "report", "churn@production", "--since", iso(T0), "--until", iso(T0 + 3 * H),
                     "--out", str(home / "r.html"), "--json", str(home / "r.json"))
    assert report.returncode == 0, report.stderr
    assert (home / "r.html").read_text().startswith("<!DOCTYPE html>")
    data = json.loads((home / "r.json").read_text())
    assert {f["name"] for f in data["features"]} >= {"age", "plan", "spend"}
    assert [v for _, v in data["performance"]["accuracy"]][0] == 1.0
    assert run_cli(home, "monitor", "delete", "churn@production").returncode == 0
    assert "churn@production" not in run_cli(home, "monitor", "list").stdout


def test_bad_input_is_one_clear_error_line(tmp_path: Path) -> None:
    home, _ = setup_home(tmp_path)
    missing = run_cli(home, "monitor", "create", "churn@production", "--reference", "ds:nope@1")
    assert missing.returncode == 1 and "NotFound" in missing.stderr and "nope" in missing.stderr
    window = run_cli(home, "monitor", "create", "churn@production", "--window", "soon")
    assert window.returncode == 1 and "InvalidInput" in window.stderr and "window" in window.stderr
    assert run_cli(home, "monitor", "show", "nope").returncode == 1
    (home / "bad.csv").write_text("request_id,label\nhas space,1\n")
    bad = run_cli(home, "monitor", "labels", "upload", str(home / "bad.csv"))
    assert bad.returncode == 1 and "request_id" in bad.stderr


def test_the_scheduler_runs_due_monitors_each_tick(tmp_path: Path) -> None:
    home, _ = setup_home(tmp_path)
    with Client(home=home) as client:
        client.create_monitor("churn@production", window="1h", start=T0, delay_s=0)
    ticked = run_cli(home, "scheduler", "--once")
    assert ticked.returncode == 0, ticked.stderr
    with Client(home=home) as client:
        windows = client.list_monitor_windows("churn@production")
    assert [w.rows for w in windows[:2]] == [500, 500]  # every window closed by now, computed once


def test_run_says_what_waits_and_partial_shows_the_open_window(tmp_path: Path) -> None:
    home, _ = setup_home(tmp_path)
    created = run_cli(home, "monitor", "create", "churn@production", "--reference", "ds:churn-train@1", "--window",
                      "1h", "--label-column", "churned", "--start", iso(T0), "--delay", "0")
    assert created.returncode == 0, created.stderr
    # Half-way through the first hour nothing has closed, yet the rows logged so far wait.
    waiting = run_cli(home, "monitor", "run", "--now", iso(T0 + H // 2))
    assert waiting.returncode == 0, waiting.stderr
    waits = r"(\d+) rows waiting in the window 2026-01-01 00:00–01:00 UTC, computed from 01:00"
    found = re.search(waits, waiting.stdout)
    assert found and int(found.group(1)) > 0, waiting.stdout
    partial = run_cli(home, "monitor", "run", "--now", iso(T0 + H // 2), "--partial")
    assert partial.returncode == 0, partial.stderr
    assert f"partial window 2026-01-01 00:00–01:00 so far: {found.group(1)} rows" in partial.stdout, partial.stdout
    with Client(home=home) as client:
        assert client.list_monitor_windows("churn@production") == []  # a partial window is never stored


def test_create_refuses_a_model_that_is_neither_registered_nor_served(tmp_path: Path) -> None:
    home, _ = setup_home(tmp_path)  # churn is served (it has an inference log), not registered
    missing = run_cli(home, "monitor", "create", "nosuch@production", "--reference", "ds:churn-train@1")
    assert missing.returncode == 1 and "NotFound" in missing.stderr
    assert "'nosuch@production'" in missing.stderr and "churn" in missing.stderr  # the models there are
    assert "nosuch" not in run_cli(home, "monitor", "list").stdout
    served = run_cli(home, "monitor", "create", "churn@production", "--reference", "ds:churn-train@1")
    assert served.returncode == 0, served.stderr
    with Client(home=home) as client:
        client.registry_store.create_registered_model("fraud")  # registered, never served yet
        assert client.create_monitor("fraud@production", window="1h").model == "fraud@production"


def test_since_that_is_neither_a_duration_nor_a_time_names_both_forms(tmp_path: Path) -> None:
    home, _ = setup_home(tmp_path)
    for since in ("2x", "-2h"):
        for args in (("report", "churn@production"), ("export-labelled", "churn@production", "--to", "ds:x")):
            bad = run_cli(home, "monitor", *args, f"--since={since}")
            assert bad.returncode == 1 and "InvalidInput" in bad.stderr, (args, bad.stderr)
            assert "a duration such as 7d or 12h, or an ISO time such as 2026-01-31T12:00" in bad.stderr
            assert f"got '{since}'" in bad.stderr


def test_labels_and_exports_of_a_model_that_does_not_exist_say_so(tmp_path: Path) -> None:
    home, first = setup_home(tmp_path)
    truth(first).to_csv(home / "labels.csv", index=False)
    upload = run_cli(home, "monitor", "labels", "upload", str(home / "labels.csv"), "--model", "nosuch")
    assert upload.returncode == 1 and "NotFound" in upload.stderr and "'nosuch'" in upload.stderr
    export = run_cli(home, "monitor", "export-labelled", "nosuch@production", "--to", "ds:x")
    assert export.returncode == 1 and "NotFound" in export.stderr and "'nosuch@production'" in export.stderr
    assert "no labelled answers" not in export.stderr
    (home / "y.csv").write_text("request_id,y\nreq-1,1\n")
    no_label = run_cli(home, "monitor", "labels", "upload", str(home / "y.csv"), "--model", "churn")
    assert no_label.returncode == 1 and "'label'" in no_label.stderr
    assert "['request_id', 'y']" in no_label.stderr  # the file's columns, not one added for --model
