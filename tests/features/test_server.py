"""The feature endpoints over real HTTP: lookups, push, and 4xx for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard import features as sf
from tests.services import ServerThread, running_server

NOW = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    config = Config(home=tmp_path / "server")
    pd.DataFrame({"user_id": [1, 2], "event_ts": [NOW, NOW], "spend": [1.5, 2.5]}).to_parquet(tmp_path / "s.parquet")
    with Client(config) as client:
        client.feature_store.apply(sf.FeatureView("user_stats", [sf.Entity("user", join_keys=["user_id"])],
                                                  sf.ParquetSource(tmp_path / "s.parquet", timestamp="event_ts"),
                                                  {"spend": "float64"}, ttl="1d"))
        client.feature_store.materialize(NOW - pd.Timedelta(hours=1), NOW + pd.Timedelta(hours=1))
    with running_server(config) as srv:
        yield srv


def test_online_lookup_and_push_over_http(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url) as http:
        got = http.post("/api/v1/features/online", json={"features": ["user_stats:spend"],
                                                         "entity_rows": [{"user_id": 2}, {"user_id": 9}]})
        assert got.status_code == 200 and got.json() == {"columns": {"user_id": [2, 9], "spend": [2.5, None]}}
        pushed = http.post("/api/v1/features/push", json={"view": "user_stats", "rows": [
            {"user_id": 9, "event_ts": (NOW + pd.Timedelta(seconds=1)).isoformat(), "spend": 7.0}]})
        assert pushed.status_code == 200 and pushed.json() == {"rows": 1}
        got = http.post("/api/v1/features/online", json={"features": ["user_stats:spend"],
                                                         "entity_rows": [{"user_id": 9}], "full_feature_names": True})
        assert got.json()["columns"] == {"user_id": [9], "user_stats__spend": [7.0]}
        listed = http.get("/api/v1/features/objects", params={"kind": "feature_view"}).json()["items"]
        assert [o["name"] for o in listed] == ["user_stats"]
        assert http.get("/api/v1/features/objects/feature_view/user_stats").json()["version"] == 1


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("/api/v1/features/online", {"features": ["nope:x"], "entity_rows": [{"user_id": 1}]}, 404, "nope"),
    ("/api/v1/features/online", {"features": ["user_stats:x"], "entity_rows": [{"user_id": 1}]}, 404, "'x'"),
    ("/api/v1/features/online", {"features": ["user_stats:spend"], "entity_rows": [{"id": 1}]}, 422, "user_id"),
    ("/api/v1/features/online", {"features": [], "entity_rows": []}, 422, "features"),
    ("/api/v1/features/online", {"features": "user_stats:spend", "entity_rows": [{}]}, 422, "features"),
    ("/api/v1/features/push", {"view": "user_stats", "rows": [{"user_id": 1, "spend": 1.0}]}, 422, "event_ts"),
    ("/api/v1/features/push", {"view": "user_stats", "rows": [{"user_id": 1, "event_ts": "yesterday",
                                                                "spend": 1.0}]}, 422, "ISO 8601"),
    ("/api/v1/features/apply", {"objects": [{"kind": "feature_view", "name": "v"}]}, 422, "spec"),
    ("/api/v1/features/apply", {"objects": [{"kind": "table", "name": "v"}]}, 422, "kind"),
    ("/api/v1/features/online-store/user_stats/rows", {"x": 1}, 422, "arrow"),
])
def test_bad_requests_are_4xx_naming_the_problem(server: ServerThread, path: str, body: object, status: int,
                                                 words: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        answer = http.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]["message"]


def test_the_server_exports_freshness_on_metrics(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url) as http:
        text = http.get("/metrics").text
    line = next(x for x in text.splitlines() if x.startswith('shipyard_feature_freshness_seconds{view="user_stats"}'))
    # The age of the newest row, stamped NOW when this module was collected (maybe minutes ago).
    age = (pd.Timestamp.now(tz="UTC").tz_localize(None) - NOW).total_seconds()
    assert 0 <= float(line.split()[-1]) <= age + 60
