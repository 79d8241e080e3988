"""``shipyard features apply|list|show|materialize|materialize-incremental|get`` as a real subprocess."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd

from tests.cli.test_cli import run_cli

NOW = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
M = pd.Timedelta(minutes=1)

DEFS = """
import pandas as pd
from shipyard import features as sf

user = sf.Entity("user", join_keys=["user_id"])
stats = sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource("stats/", timestamp="event_ts"),
                       features={"spend": "float64", "orders": "int64"}, ttl="{ttl}")


def plus(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"total": df["spend"] + df["amount"]})


total = sf.OnDemandFeatureView("total", inputs=["user_stats:spend", sf.RequestField("amount")],
                               features={"total": "float64"}, fn=plus)
"""


def _write(home: Path, ttl: str = "1d", spend_type: str = "float64") -> Path:
    path = home / "defs.py"
    path.write_text(textwrap.dedent(DEFS).replace("{ttl}", ttl).replace('"spend": "float64"',
                                                                      f'"spend": "{spend_type}"'))
    return path


def test_feature_commands_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "stats").mkdir()
    pd.DataFrame({"user_id": [5, 5, 7], "event_ts": [NOW - 9 * M, NOW - 2 * M, NOW - M], "spend": [1.0, 2.0, 3.0],
                  "orders": [1, 2, 3]}).to_parquet(tmp_path / "stats" / "part-0.parquet")
    applied = run_cli(tmp_path, "features", "apply", str(_write(tmp_path)))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("created") == 3
    assert run_cli(tmp_path, "features", "apply", str(_write(tmp_path))).stdout.count("unchanged") == 3
    assert "updated" in run_cli(tmp_path, "features", "apply", str(_write(tmp_path, ttl="2d"))).stdout
    listed = run_cli(tmp_path, "features", "list")
    assert "user_stats" in listed.stdout and "total" in listed.stdout and " 2d " in listed.stdout
    start, end = (NOW - 60 * M).isoformat(), (NOW + M).isoformat()
    done = run_cli(tmp_path, "features", "materialize", "--start", start, "--end", end)
    assert done.returncode == 0, done.stderr
    assert "user_stats: 2 entities" in done.stdout
    got = run_cli(tmp_path, "features", "get", "user_stats:spend", "total:total", "--entity", "user_id=5,amount=10",
                  "--entity", "user_id=9,amount=1", "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == {"user_id": [5, 9], "spend": [2.0, None], "total": [12.0, None]}
    looked_up = run_cli(tmp_path, "features", "get", "user_stats:spend", "--entity", "user_id=5").stdout
    assert ["5", "2"] in [line.split() for line in looked_up.splitlines()]  # piped: one plain line per row
    shown = run_cli(tmp_path, "features", "show", "user_stats")
    assert shown.returncode == 0 and '"spend": "float64"' in shown.stdout and "2 rows" in shown.stdout
    again = run_cli(tmp_path, "features", "materialize-incremental", "--end", (NOW + 2 * M).isoformat())
    assert "user_stats: 0 entities" in again.stdout


def test_incompatible_changes_and_bad_input_are_one_clear_error_line(tmp_path: Path) -> None:
    run_cli(tmp_path, "features", "apply", str(_write(tmp_path)))
    refused = run_cli(tmp_path, "features", "apply", str(_write(tmp_path, spend_type="string")))
    assert refused.returncode == 1
    assert "Conflict" in refused.stderr and "'spend' changed type from float64 to string" in refused.stderr
    forced = run_cli(tmp_path, "features", "apply", str(_write(tmp_path, spend_type="string")), "--force")
    assert forced.returncode == 0 and "forced" in forced.stdout
    missing = run_cli(tmp_path, "features", "show", "nope")
    assert missing.returncode == 1 and "NotFound" in missing.stderr and "'nope'" in missing.stderr
    bad = run_cli(tmp_path, "features", "get", "user_stats:spend", "--entity", "user_id")
    assert bad.returncode == 1 and "InvalidInput" in bad.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert "defines no Entity" in run_cli(tmp_path, "features", "apply", str(empty)).stderr
