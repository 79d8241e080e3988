"""Serving models that declare features: entity keys in, features looked up per batch, model input out.

The feature store itself is exercised end to end in ``tests/features/test_serving.py``;
here a small in-memory :class:`FeatureLookup` stands behind the hook so the request
path's rules (door, nulls, batching, logging) are pinned on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import shipyard
from shipyard.errors import ConfigError, Unavailable
from shipyard.serving import InferenceLogConfig, ServeConfig, ServingService, create_app
from tests.services import ServerThread
from tests.serving.feature_models import Weighted

REFS = ["user_stats:avg_spend", "user_stats:orders", "promo:discount"]
COLUMNS = ["avg_spend", "orders", "discount", "amount"]  # the signature's order; amount comes with the request
WEIGHTS = [1.0, 10.0, 100.0, 1000.0]
ONLINE = {  # user_id → online values; user 2 has no discount, user 3 nothing at all
    1: {"user_stats:avg_spend": 1.5, "user_stats:orders": 2.0, "promo:discount": 0.1},
    2: {"user_stats:avg_spend": 3.0, "user_stats:orders": 5.0},
}


def expected(user: int, amount: float) -> float:
    values = ONLINE[user]
    row = [values.get(ref, np.nan) for ref in REFS] + [amount]
    return float(Weighted(WEIGHTS).predict(np.array([row]))[0])


class TableLookup:
    """A FeatureLookup over a dict, counting the rows of each lookup (and optionally slow)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[int] = []
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def prepare(self, refs: Sequence[str]) -> list[str]:
        assert list(refs) == REFS
        return ["user_id"]

    def lookup(self, refs: Sequence[str], rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys = rows["user_id"]
        with self._lock:
            self.calls.append(len(keys))
        if self.delay_s:
            time.sleep(self.delay_s)
        return {ref: np.array([ONLINE.get(int(k), {}).get(ref, np.nan) for k in keys]) for ref in refs}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[shipyard.Client]:
    with shipyard.Client(home=tmp_path / "home") as c:
        run = c.create_run("features")
        example = pd.DataFrame({"avg_spend": [1.0, 2.0], "orders": [3.0, 4.0], "discount": [0.5, None],
                                "amount": [10.0, 20.0]})
        c.log_model(run.id, Weighted(WEIGHTS), "model", input_example=example, features=REFS,
                    entity_keys=["user_id"], registered_model_name="spend")
        c.end_run(run.id)
        yield c


@contextlib.contextmanager
def serving(client: shipyard.Client, lookup: TableLookup | None, **options: object) -> Iterator[ServerThread]:
    config = ServeConfig.for_uri("models:/spend/1", gc_freeze=False, access_log=False, **options)
    app = create_app(config, client, features=(lambda: lookup) if lookup is not None else None)
    server = ServerThread(app).start()
    try:
        yield server
    finally:
        server.stop()


def v2(**columns: list) -> dict:
    def tensor(name: str, values: list) -> dict:
        datatype = "INT64" if all(isinstance(v, int) for v in values) else "FP64"
        return {"name": name, "shape": [len(values)], "datatype": datatype, "data": values}

    return {"inputs": [tensor(name, values) for name, values in columns.items()]}


# -- the request path -------------------------------------------------------------------------


def test_entity_keys_and_request_fields_are_enough_in_both_protocols(client: shipyard.Client) -> None:
    lookup = TableLookup()
    with serving(client, lookup) as server:
        r = httpx.post(f"{server.url}/v2/models/spend/infer", json=v2(user_id=[1, 2], amount=[2.0, 3.0]))
        assert r.status_code == 200, r.text
        assert r.json()["outputs"][0]["data"] == [expected(1, 2.0), expected(2, 3.0)]
        records = {"dataframe_records": [{"user_id": 2, "amount": 1.0, "ignored": "x"}]}
        r = httpx.post(f"{server.url}/invocations", json=records)
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": [expected(2, 1.0)]}
        split = {"dataframe_split": {"columns": ["amount", "user_id"], "data": [[4.0, 1], [5.0, 2]]}}
        r = httpx.post(f"{server.url}/invocations", json=split)
        assert r.json() == {"predictions": [expected(1, 4.0), expected(2, 5.0)]}
        metadata = httpx.get(f"{server.url}/v2/models/spend").json()
        assert metadata["parameters"] == {"request_columns": ["user_id", "amount"], "entity_keys": ["user_id"],
                                          "features": REFS}
    assert lookup.calls == [2, 1, 2]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v2/models/spend/infer", v2(amount=[1.0]), "user_id"),
    ("/v2/models/spend/infer", v2(user_id=[1]), "amount"),
    ("/invocations", {"dataframe_records": [{"amount": 1.0}]}, "user_id"),
    ("/invocations", {"dataframe_records": [{"user_id": 1, "amount": 1.0}, {"amount": 2.0}]}, "user_id"),
    ("/invocations", {"dataframe_records": [{"user_id": None, "amount": 1.0}]}, "user_id"),
    ("/invocations", {"inputs": [[1, 2.0]]}, "named columns"),
])
def test_a_missing_entity_key_or_field_is_400_naming_it(client: shipyard.Client, path: str, body: dict,
                                                        field: str) -> None:
    lookup = TableLookup()
    with serving(client, lookup) as server:
        r = httpx.post(f"{server.url}{path}", json=body)
    assert r.status_code == 400, r.text
    message = r.json().get("message") or r.json()["error"]
    assert repr(field) in message or field in message
    assert lookup.calls == []  # refused at the door: nothing looked up


def test_no_online_value_is_a_null_where_the_signature_allows_it_else_422_naming_the_feature(
        client: shipyard.Client) -> None:
    with serving(client, TableLookup()) as server:
        # user 2 has no discount: the column is optional (the training set had a gap), so NaN reaches the model
        ok = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"user_id": 2, "amount": 1.0}]})
        assert ok.json() == {"predictions": [expected(2, 1.0)]}
        # user 3 has no avg_spend, a required column
        r = httpx.post(f"{server.url}/v2/models/spend/infer", json=v2(user_id=[1, 3], amount=[1.0, 1.0]))
        assert r.status_code == 422, r.text
        assert "'user_stats:avg_spend'" in r.json()["error"] and "{'user_id': 3}" in r.json()["error"]


def test_concurrent_requests_share_one_lookup_per_batch(client: shipyard.Client) -> None:
    lookup = TableLookup(delay_s=0.02)
    with serving(client, lookup) as server, httpx.Client() as http:
        def one(i: int) -> float:
            user = 1 + i % 2
            r = http.post(f"{server.url}/invocations", json={"dataframe_records": [{"user_id": user, "amount": i}]})
            assert r.status_code == 200, r.text
            return float(r.json()["predictions"][0])

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(64)))
    assert answers == [expected(1 + i % 2, float(i)) for i in range(64)]
    assert sum(lookup.calls) == 64 and len(lookup.calls) < 64 and max(lookup.calls) > 1


def test_one_bad_entity_in_a_batch_fails_only_its_own_request(client: shipyard.Client) -> None:
    lookup = TableLookup(delay_s=0.02)
    with serving(client, lookup) as server, httpx.Client() as http:
        def one(user: int) -> int:
            return http.post(f"{server.url}/invocations",
                             json={"dataframe_records": [{"user_id": user, "amount": 1.0}]}).status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(one, [1, 2, 3] * 8))
    assert statuses == [200, 200, 422] * 8


def test_the_inference_log_records_the_looked_up_features(client: shipyard.Client) -> None:
    with serving(client, TableLookup(), inference_log=InferenceLogConfig(flush_interval_s=60)) as server:
        httpx.post(f"{server.url}/v2/models/spend/infer", json=v2(user_id=[1, 2], amount=[7.0, 8.0]))
    experiment = client.get_experiment_by_name("serving:spend")
    frames = []
    for run in client.search_runs(experiment_ids=[experiment.id]).items:
        for info in client.list_artifacts(run.id, "inference"):
            with open(client.download_artifacts(run.id, info.path, client.config.home / "dl"), "rb") as f:
                frames.append(pd.read_parquet(io.BytesIO(f.read())))
    log = pd.concat(frames).sort_values("row")
    assert [c for c in log.columns if c.startswith("in_")] == [f"in_{c}" for c in COLUMNS]
    assert log.in_avg_spend.tolist() == [1.5, 3.0] and log.in_amount.tolist() == [7.0, 8.0]
    assert np.isnan(log.in_discount.iloc[1])


class DownLookup(TableLookup):
    """An online store that cannot be reached."""

    def lookup(self, refs: Sequence[str], rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise Unavailable("the online store is unreachable")


def logged(client: shipyard.Client, model: str) -> pd.DataFrame:
    """Every row of ``model``'s inference log."""
    experiment = client.get_experiment_by_name(f"serving:{model}")
    frames = []
    for run in client.search_runs(experiment_ids=[experiment.id]).items:
        for info in client.list_artifacts(run.id, "inference"):
            with open(client.download_artifacts(run.id, info.path, client.config.home / "dl"), "rb") as f:
                frames.append(pd.read_parquet(io.BytesIO(f.read())))
    return pd.concat(frames)


def test_a_failed_lookup_is_logged_with_the_status_the_caller_got(client: shipyard.Client) -> None:
    with serving(client, DownLookup(), inference_log=InferenceLogConfig(flush_interval_s=60)) as server:
        answer = httpx.post(f"{server.url}/v2/models/spend/infer", json=v2(user_id=[1], amount=[7.0]))
    assert answer.status_code == 503, answer.text
    log = logged(client, "spend")
    assert log.status.tolist() == [503] and "unreachable" in log.error.iloc[0]


def test_a_feature_model_needs_a_feature_lookup_to_load(client: shipyard.Client) -> None:
    service = ServingService(ServeConfig.for_uri("models:/spend/1"), client)
    with pytest.raises(ConfigError, match="declares features"):
        asyncio.run(service.start())
