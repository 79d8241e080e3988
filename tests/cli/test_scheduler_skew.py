"""The scheduler face runs feature-view skew checks when they are due, and reports what differs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard import features as sf
from shipyard.cli.scheduler import SkewChecks

NOW = pd.Timestamp.now(tz="UTC").floor("s").tz_localize(None)


@pytest.fixture
def client(tmp_path: Path) -> Client:
    frame = pd.DataFrame({"user_id": np.arange(1, 21), "event_ts": NOW - pd.Timedelta(hours=1),
                          "spend": np.arange(1, 21, dtype="float64")})
    frame.to_parquet(tmp_path / "stats.parquet")
    user = sf.Entity("user", join_keys=["user_id"])
    view = sf.FeatureView("stats", entities=[user], ttl="7d", features={"spend": "float64"},
                          source=sf.ParquetSource(str(tmp_path / "stats.parquet"), timestamp="event_ts"))
    client = Client(Config(home=tmp_path / "home"))
    client.feature_store.apply([user, view])
    client.feature_store.materialize(NOW - pd.Timedelta(days=1), NOW + pd.Timedelta(seconds=1))
    return client


def test_a_due_check_finds_a_value_pushed_online_and_waits_its_interval(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    checks = SkewChecks(["stats"], every_s=3600)
    [clean] = checks.run_due(client, now=1_000.0)
    assert clean.ok  # type: ignore[attr-defined]
    client.feature_store.push("stats", pd.DataFrame({"user_id": [3], "event_ts": [NOW], "spend": [99.0]}))
    assert checks.run_due(client, now=2_000.0) == []  # not due for another hour
    with caplog.at_level(logging.WARNING, logger="shipyard.scheduler"):
        [skewed] = checks.run_due(client, now=1_000.0 + 3600)
    assert skewed.mismatches == 1  # type: ignore[attr-defined]
    assert "skew check of stats: 1 mismatches over 20 entities (worst: spend 5.0%)" in caplog.text
    client.close()


def test_a_view_that_does_not_exist_is_logged_not_raised(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="shipyard.scheduler"):
        assert SkewChecks(["nope"], every_s=60).run_due(client) == []
    assert "skew check of nope failed" in caplog.text
    client.close()
