"""End to end: a model trained on a training set is served on entity keys alone, from the online store.

A view over Parquet is applied and materialized (to SQLite and to the real Redis),
a model is trained on ``get_historical_features``, logged with its feature
references and registered; ``shipyard serve`` (supervisor and worker processes) then
answers requests that carry only entity keys, and the predictions must equal the
model applied to the offline features as of now.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import shipyard
from shipyard import Config
from shipyard import features as sf
from shipyard.features import OnlineLookup
from shipyard.serving import ServeConfig, create_app
from tests.features.serving_defs import spend_ratio
from tests.services import ServerThread
from tests.serving.conftest import cli_server

USERS = list(range(1, 21))
REFS = ["user_stats:avg_spend_7d", "user_stats:orders_30d"]
COLUMNS = ["avg_spend_7d", "orders_30d"]
NOW = pd.Timestamp.now(tz="UTC").floor("s").tz_localize(None)  # the source's times are naive UTC


def write_source(folder: Path) -> None:
    rng = np.random.default_rng(7)
    rows = [{"user_id": u, "event_ts": NOW - pd.Timedelta(hours=12 * k + u),
             "avg_spend_7d": float(rng.gamma(2.0, 10.0)), "orders_30d": int(rng.integers(0, 30))}
            for u in USERS for k in range(6)]
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "part-0.parquet")


def definitions(folder: Path) -> tuple[sf.Entity, sf.FeatureView, sf.OnDemandFeatureView]:
    user = sf.Entity("user", join_keys=["user_id"])
    stats = sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource(str(folder), timestamp="event_ts"),
                           features={"avg_spend_7d": "float64", "orders_30d": "int64"}, ttl="7d")
    txn = sf.OnDemandFeatureView("txn", inputs=["user_stats:avg_spend_7d", sf.RequestField("amount", "float64")],
                                 features={"spend_ratio": "float64"}, fn=spend_ratio)
    return user, stats, txn


def as_of(times: list[pd.Timestamp], users: list[int], **extra: list) -> pd.DataFrame:
    return pd.DataFrame({"user_id": users, "event_timestamp": times, **extra})


@contextlib.contextmanager
def feature_home(tmp_path: Path, online_store: str | None) -> Iterator[tuple[Path, sf.FeatureStore]]:
    """A Shipyard home with the definitions applied and materialized into ``online_store``."""
    home = tmp_path / "home"
    write_source(tmp_path / "stats")
    client = shipyard.Client(Config(home=home, online_store=online_store))
    store = client.features
    store.apply(list(definitions(tmp_path / "stats")))
    store.materialize(NOW - pd.Timedelta(days=30), NOW + pd.Timedelta(seconds=1))
    try:
        yield home, store
    finally:
        client.close()


def train_and_register(home: Path, store: sf.FeatureStore, refs: list[str], columns: list[str], name: str,
                       request_fields: tuple[str, ...] = ()) -> object:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    times = [NOW - pd.Timedelta(hours=float(h)) for h in rng.uniform(0, 72, size=200)]
    users = [int(u) for u in rng.choice(USERS, size=200)]
    extra = {k: list(rng.uniform(1, 100, size=200)) for k in request_fields}
    train = store.get_historical_features(as_of(times, users, **extra), refs).to_pandas().dropna()
    target = train[columns].to_numpy(dtype=float) @ np.arange(1, len(columns) + 1) + 3.0
    model = LinearRegression().fit(train[columns], target)
    with shipyard.Client(home=home) as client:
        run = client.create_run("train")
        client.log_model(run.id, model, "model", input_example=train[columns][:5], features=refs,
                         entity_keys=["user_id"], registered_model_name=name)
        client.end_run(run.id)
    return model


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_served_model_answers_entity_keys_with_the_offline_features_of_now(
        tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    online_store = None
    if backend == "redis":
        online_store = request.getfixturevalue("redis_url")  # a key prefix of this test, removed afterwards
        monkeypatch.setenv("SHIPYARD_ONLINE_STORE", online_store)  # the served workers read it too
    with feature_home(tmp_path, online_store) as (home, store):
        model = train_and_register(home, store, REFS, COLUMNS, "spend")
        offline = store.get_historical_features(as_of([NOW + pd.Timedelta(seconds=1)] * len(USERS), USERS),
                                                REFS).to_pandas()
        expected = model.predict(offline[COLUMNS])  # type: ignore[attr-defined]
        with cli_server(home, "models:/spend/1") as server:
            v2 = httpx.post(f"{server.url}/v2/models/spend/infer", json={"inputs": [
                {"name": "user_id", "shape": [len(USERS)], "datatype": "INT64", "data": USERS}]})
            assert v2.status_code == 200, v2.text
            np.testing.assert_allclose(v2.json()["outputs"][0]["data"], expected, rtol=1e-12)
            mlflow = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"user_id": 3}]})
            assert mlflow.status_code == 200, mlflow.text
            np.testing.assert_allclose(mlflow.json()["predictions"], expected[2:3], rtol=1e-12)
            unknown = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"user_id": 999}]})
            assert unknown.status_code == 422, unknown.text
            assert "has no online value for {'user_id': 999}" in unknown.json()["message"]
            keyless = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"uid": 3}]})
            assert keyless.status_code == 400 and "'user_id'" in keyless.json()["message"]
            # a value pushed online is what the next request sees
            store.push("user_stats", pd.DataFrame({"user_id": [3], "event_ts": [NOW + pd.Timedelta(seconds=2)],
                                                   "avg_spend_7d": [500.0], "orders_30d": [1]}))
            pushed = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"user_id": 3}]})
            fresh = model.predict(pd.DataFrame({"avg_spend_7d": [500.0], "orders_30d": [1]}))  # type: ignore[attr-defined]
            np.testing.assert_allclose(pushed.json()["predictions"], fresh, rtol=1e-12)


def test_on_demand_features_run_the_training_function_on_request_fields(tmp_path: Path) -> None:
    refs = [*REFS, "txn:spend_ratio"]
    columns = [*COLUMNS, "spend_ratio"]
    with feature_home(tmp_path, None) as (home, store), shipyard.Client(home=home) as client:
        model = train_and_register(home, store, refs, columns, "ratio", ("amount",))
        assert client.get_model_version("ratio", 1).features == refs
        amounts = [float(a) for a in np.linspace(5, 95, len(USERS))]
        offline = store.get_historical_features(
            as_of([NOW + pd.Timedelta(seconds=1)] * len(USERS), USERS, amount=amounts), refs).to_pandas()
        expected = model.predict(offline[columns])  # type: ignore[attr-defined]
        config = ServeConfig.for_uri("models:/ratio/1", gc_freeze=False, access_log=False)
        app = create_app(config, client, features=lambda: OnlineLookup(store))
        server = ServerThread(app).start()
        try:
            records = [{"user_id": u, "amount": a} for u, a in zip(USERS, amounts, strict=True)]
            r = httpx.post(f"{server.url}/invocations", json={"dataframe_records": records})
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-12)
            missing = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"user_id": 1}]})
            assert missing.status_code == 400 and "'amount'" in missing.json()["message"]
        finally:
            server.stop()


def test_the_lookup_names_what_a_reference_needs_and_refuses_unknown_ones(tmp_path: Path) -> None:
    with feature_home(tmp_path, None) as (_, store):
        lookup = OnlineLookup(store)
        assert lookup.prepare(["txn:spend_ratio", "user_stats:orders_30d"]) == ["user_id", "amount"]
        values = lookup.lookup(REFS, {"user_id": np.array([1, 999])})
        assert [np.isnan(v[1]) for v in values.values()] == [True, True]  # no online value: NaN
        assert values["user_stats:avg_spend_7d"][0] > 0 and float(values["user_stats:orders_30d"][0]).is_integer()
        with pytest.raises(shipyard.errors.NotFound, match="no feature 'nope'"):
            lookup.prepare(["user_stats:nope"])
