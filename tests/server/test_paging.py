"""Every list of datasets, features, monitoring and alerts comes in pages walked by ``next_page_token``."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
import sqlalchemy as sa

from shipyard import Client, Config
from shipyard import features as sf
from shipyard.alerting import Point, parse_rule
from shipyard.datasets import register_version
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.server import create_app
from tests.services import PG_ADMIN_URL, ServerThread

H = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a window boundary
WINDOWS = 5


def _folder(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def _fill(client: Client, tmp: Path) -> None:
    """Datasets, feature objects, monitors with windows and points, rules with alerts and history."""
    for i in range(4):
        register_version(client.dataset_store, f"d{i}", _folder(tmp / f"d{i}", {"a.txt": f"d{i}"}))
    for v in range(1, 6):  # version v of "big" holds v + 2 files
        register_version(client.dataset_store, "big",
                         _folder(tmp / f"big{v}", {f"f{j}.txt": f"{v}-{j}" for j in range(v + 2)}))
    pd.DataFrame({"user_id": [1], "ts": [pd.Timestamp(T0, unit="ms")], "spend": [1.0]}).to_parquet(tmp / "s.parquet")
    user = sf.Entity("user", join_keys=["user_id"])
    client.feature_store.apply([user, *(sf.Entity(f"e{i}") for i in range(4)),
                                sf.FeatureView("spend", [user], sf.ParquetSource(tmp / "s.parquet", timestamp="ts"),
                                               {"spend": "float64"})])
    for text in ("second", "third"):
        client.feature_store.apply(sf.Entity("e0", description=text))
    store = client.monitor_store
    for i in range(5):
        store.create_monitor(Monitor(f"m{i}", "churn@production", 3600, cursor=T0))
    starts = [T0 + w * H for w in range(WINDOWS)]
    store.commit("m0", expect=(T0, None), cursor=T0 + WINDOWS * H, label_watermark=None,
                 windows=[MonitorWindow("m0", s, s + H, 10, "ok") for s in starts],
                 points=[p for s in starts for p in (
                     Point("m0", "drift_share", s, s + H, 0.1), Point("m0", "score", s, s + H, 0.5, {"feature": "age"}),
                     Point("m0", "score", s, s + H, 0.1, {"feature": "plan"}))])
    store.write_points([Point(f"m{i}", "drift_share", T0, T0 + H, 0.1) for i in range(1, 5)])
    for i in range(5):  # each rule fires once, on m0's "age" score
        client.alert_store.create_rule(parse_rule("score > 0.2", name=f"r{i}"))
    assert len(client.evaluate_alerts(T0 + WINDOWS * H + 1)) == 5


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def http(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server over the stores :func:`_fill` filled, on SQLite and on PostgreSQL (a schema of its own)."""
    tmp = tmp_path_factory.mktemp("paging")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    if request.param == "postgres":
        engine: sa.Engine = request.getfixturevalue("pg_engine")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        config = Config(home=tmp / "home", db=f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
    else:
        config = Config(home=tmp / "home")
    with Client(config) as client:
        _fill(client, tmp)
    server = ServerThread(create_app(config)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client_http:
            yield client_http
    finally:
        server.stop()
        if request.param == "postgres":
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


LISTS: list[tuple[str, dict[str, str], int]] = [  # path, filters, how many items it holds
    ("/api/v1/datasets", {}, 5),
    ("/api/v1/datasets/big/versions", {}, 5),
    ("/api/v1/datasets/big/versions/5/files", {}, 7),
    ("/api/v1/features/objects", {}, 6),
    ("/api/v1/features/objects/entity/e0/versions", {}, 3),
    ("/api/v1/monitors", {}, 5),
    ("/api/v1/monitors/m0/windows", {}, WINDOWS),
    ("/api/v1/monitoring/series", {}, 3 * WINDOWS + 4),
    ("/api/v1/monitoring/series", {"labels": '{"feature":"age"}'}, WINDOWS),
    ("/api/v1/monitoring/series/latest", {}, 3 + 4),
    ("/api/v1/alerts/rules", {}, 5),
    ("/api/v1/alerts", {}, 5),
    ("/api/v1/alerts/history", {}, 10),  # each alert fired, and was notified (to the log)
]


def get(http: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    answer = http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def walk(http: httpx.Client, path: str, filters: dict[str, str], size: int,
         token: str | None = None) -> tuple[list[Any], int]:
    """Every item of the list (from ``token`` on), ``size`` per page, and how many pages it took."""
    items, pages = [], 0
    while True:
        page = get(http, path, **filters, max_results=size, **({"page_token": token} if token else {}))
        assert len(page["items"]) <= size
        items += page["items"]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            return items, pages


@pytest.mark.parametrize(("path", "filters", "count"), LISTS, ids=[f"{p} {f}" for p, f, _ in LISTS])
def test_a_list_longer_than_a_page_is_walked_whole_once_in_the_same_order(http: httpx.Client, path: str,
                                                                           filters: dict[str, str],
                                                                           count: int) -> None:
    whole = get(http, path, **filters, max_results=10_000)
    assert "next_page_token" not in whole and len(whole["items"]) == count
    walked, pages = walk(http, path, filters, 2)
    assert walked == whole["items"] and pages == math.ceil(count / 2)
    assert len({orjson.dumps(item) for item in walked}) == count


def test_pages_follow_the_order_of_each_store(http: httpx.Client) -> None:
    assert [d["name"] for d in walk(http, "/api/v1/datasets", {}, 2)[0]] == ["big", "d0", "d1", "d2", "d3"]
    assert [v["version"] for v in walk(http, "/api/v1/datasets/big/versions", {}, 2)[0]] == [5, 4, 3, 2, 1]
    assert [f[0] for f in walk(http, "/api/v1/datasets/big/versions/5/files", {}, 3)[0]] == \
        [f"f{j}.txt" for j in range(7)]
    objects = walk(http, "/api/v1/features/objects", {}, 4)[0]
    assert [(o["kind"], o["name"]) for o in objects] == [
        ("entity", "e0"), ("entity", "e1"), ("entity", "e2"), ("entity", "e3"), ("entity", "user"),
        ("feature_view", "spend")]
    assert [o["version"] for o in walk(http, "/api/v1/features/objects/entity/e0/versions", {}, 2)[0]] == [3, 2, 1]
    assert [w["window_start"] for w in walk(http, "/api/v1/monitors/m0/windows", {}, 2)[0]] == \
        [T0 + w * H for w in range(WINDOWS)]
    ends = [p[3] for p in walk(http, "/api/v1/monitoring/series", {}, 4)[0]]
    assert ends == sorted(ends)
    history = walk(http, "/api/v1/alerts/history", {}, 2)[0]
    assert [e["id"] for e in history] == sorted((e["id"] for e in history), reverse=True)


def test_a_dataset_added_between_pages_neither_repeats_nor_hides_another(tmp_path: Path) -> None:
    server = ServerThread(create_app(Config(home=tmp_path / "server"))).start()
    try:
        with Client(Config(home=tmp_path / "client", url=server.url)) as client, \
                httpx.Client(base_url=server.url, timeout=30) as http:
            for name in ("b", "c", "d", "e"):
                register_version(client.dataset_store, name, _folder(tmp_path / name, {"x.txt": name}))
            first = get(http, "/api/v1/datasets", max_results=2)
            assert [d["name"] for d in first["items"]] == ["b", "c"]
            for name in ("a-early", "zz-late"):
                register_version(client.dataset_store, name, _folder(tmp_path / name, {"x.txt": name}))
            rest, _ = walk(http, "/api/v1/datasets", {}, 2, first["next_page_token"])
    finally:
        server.stop()
    assert [d["name"] for d in rest] == ["d", "e", "zz-late"]


@pytest.mark.parametrize("path", sorted({p for p, _, _ in LISTS}))
def test_a_page_token_that_is_not_one_is_422_naming_page_token(http: httpx.Client, path: str) -> None:
    answer = http.get(path, params={"page_token": "not-a-token"})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("InvalidInput", "page_token")


@pytest.mark.parametrize("path", ["/api/v1/datasets/big/versions", "/api/v1/features/objects/entity/e0/versions",
                                  "/api/v1/monitors/m0/windows", "/api/v1/alerts/history"])
def test_another_lists_page_token_is_422(http: httpx.Client, path: str) -> None:
    names_token = get(http, "/api/v1/datasets", max_results=1)["next_page_token"]
    answer = http.get(path, params={"page_token": names_token})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "page_token"


@pytest.mark.parametrize("size", [0, 10_001, "many"])
def test_max_results_is_bounded(http: httpx.Client, size: object) -> None:
    answer = http.get("/api/v1/monitors", params={"max_results": size})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "max_results"


def test_the_remote_client_reads_every_page(http: httpx.Client, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shipyard.remote._pages.PAGE_SIZE", 2)
    url = str(http.base_url).rstrip("/")
    with Client(Config(home=tmp_path / "client", url=url)) as client:
        assert [v.version for v in client.dataset_store.list_versions("big")] == [5, 4, 3, 2, 1]
        assert len(client.dataset_store.list_files("big", 5)) == 7
        assert [o.name for o in client.feature_registry.list_objects("entity")] == ["e0", "e1", "e2", "e3", "user"]
        assert [o.version for o in client.feature_registry.versions("entity", "e0")] == [3, 2, 1]
        assert [m.name for m in client.monitor_store.list_monitors()] == [f"m{i}" for i in range(5)]
        assert len(client.monitor_store.list_windows("m0")) == WINDOWS
        assert len(client.monitor_store.query_points("m0")) == 3 * WINDOWS
        assert len(client.monitor_store.latest_points()) == 7
        assert [r.name for r in client.list_alert_rules()] == [f"r{i}" for i in range(5)]
        assert len(client.list_alerts()) == 5
        assert len(client.alert_history(limit=3)) == 3


def test_series_filtered_by_labels_are_paged_past_many_points_that_do_not_match(tmp_path: Path) -> None:
    config = Config(home=tmp_path / "home")
    with Client(config) as client:
        # 2,400 points of which one in 400 holds the label asked for: a page spans several reads.
        client.monitor_store.write_points([
            Point("m", "score", T0 + i * H, T0 + (i + 1) * H, float(i), {"feature": "age" if i % 400 == 7 else "x"})
            for i in range(2400)])
    server = ServerThread(create_app(config)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            walked, pages = walk(http, "/api/v1/monitoring/series", {"labels": '{"feature":"age"}'}, 2)
    finally:
        server.stop()
    assert [p[4] for p in walked] == [float(i) for i in range(7, 2400, 400)] and pages == 3
