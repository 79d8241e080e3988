"""``shipyard features check-skew`` as a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from shipyard import Client, Config
from shipyard import features as sf
from tests.cli.test_cli import run_cli

NOW = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")


def test_check_skew_prints_a_table_or_json_and_can_fail_the_command(tmp_path: Path) -> None:
    (tmp_path / "stats").mkdir()
    frame = pd.DataFrame({"user_id": [1, 2, 3, 4], "event_ts": [NOW - pd.Timedelta(minutes=5)] * 4,
                          "spend": [1.0, 2.0, 3.0, 4.0]})
    frame.to_parquet(tmp_path / "stats" / "part-0.parquet")
    user = sf.Entity("user", join_keys=["user_id"])
    view = sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource(str(tmp_path / "stats"),
                                                                                 timestamp="event_ts"),
                          features={"spend": "float64"}, ttl="1d")
    with Client(Config(home=tmp_path)) as client, client.features as store:
        store.apply([user, view])
        store.materialize(NOW - pd.Timedelta(hours=1), NOW)
        clean = run_cli(tmp_path, "features", "check-skew", "user_stats", "--fail")
        assert clean.returncode == 0, clean.stderr
        assert "4 entities compared" in clean.stdout and "0.00%" in clean.stdout
        store.push("user_stats", pd.DataFrame({"user_id": [2], "event_ts": [NOW], "spend": [20.0]}))
    table = run_cli(tmp_path, "features", "check-skew", "user_stats", "--fail")
    assert table.returncode == 3 and "25.00%" in table.stdout and "user_id=2" in table.stdout
    as_json = run_cli(tmp_path, "features", "check-skew", "user_stats", "--json", "--sample", "2")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["sampled_online"] == 2 and 2 <= report["compared"] <= 4
    full = json.loads(run_cli(tmp_path, "features", "check-skew", "user_stats", "--json").stdout)
    assert full["features"]["spend"]["largest"] == [
        {"entity": {"user_id": 2}, "offline": 2.0, "online": 20.0, "difference": 18.0}]
    unknown = run_cli(tmp_path, "features", "check-skew", "nope")
    assert unknown.returncode != 0 and "nope" in unknown.stderr
