"""Datasets through the client and the fluent API, in every mode (embedded, remote; disk, S3)."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shipyard
from shipyard import Client, Config, InvalidInput
from shipyard.datasets import Column, Contract
from shipyard.testing.datasets import small_frame


def test_every_kind_of_source_registers_and_reads_back(ds_client: Client, tmp_path: Path) -> None:
    frame = small_frame()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "folder" / "part").mkdir(parents=True)
    frame.iloc[:20].to_csv(tmp_path / "folder" / "part" / "a.csv", index=False)
    frame.iloc[20:].to_csv(tmp_path / "folder" / "b.csv", index=False)
    sources = {"pandas": frame, "polars": pl.from_pandas(frame),
               "arrow": pa.Table.from_pandas(frame, preserve_index=False), "parquet": tmp_path / "t.parquet",
               "csv": str(tmp_path / "t.csv"), "folder": tmp_path / "folder"}
    for kind, source in sources.items():
        version = ds_client.register_dataset(kind, source)
        handle = ds_client.get_dataset(version.ref)
        read = handle.to_pandas().sort_values("age", kind="stable").reset_index(drop=True)
        expected = frame.sort_values("age", kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(read, expected, check_dtype=False)
        assert handle.to_polars().height == 50 and handle.to_arrow().num_rows == 50
        assert handle.path().is_dir() and version.num_rows == 50
    assert ds_client.get_dataset_version("folder").num_files == 2


def test_a_machine_that_never_saw_the_data_pulls_it_from_the_store(ds_config: Config, tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    small_frame().to_csv(source, index=False)
    with Client(ds_config) as first:
        version = first.register_dataset("churn", source, description="first cut")
    source.unlink()
    elsewhere = ds_config.with_(home=tmp_path / "elsewhere", artifacts=ds_config.artifacts_uri)
    if ds_config.url:
        elsewhere = ds_config.with_(home=tmp_path / "elsewhere")
    with Client(elsewhere) as second:
        handle = second.get_dataset("churn", version=1)
        assert handle.version.digest == version.digest and handle.version.description == "first cut"
        assert (handle.path() / "data.csv").read_bytes().startswith(b"age,plan,spend")
        assert str(handle.path()).startswith(str(tmp_path / "elsewhere"))
        assert len(second.pull_dataset(version.digest, tmp_path / "copy").iterdir().__next__().name) > 0


def test_reading_a_handle_inside_a_run_records_lineage(ds_client: Client) -> None:
    with shipyard.start_run("prep", client=ds_client) as prep:
        produced = shipyard.data.register("churn", small_frame(), client=ds_client)
    handle = shipyard.data.get("churn", client=ds_client)  # obtained outside any run
    with shipyard.start_run("train", client=ds_client) as train:
        shipyard.set_client(ds_client)
        try:
            assert handle.to_pandas().shape == (50, 3)
            shipyard.log_input("churn@1")  # explicit and automatic agree (idempotent)
        finally:
            shipyard.set_client(None)
    assert produced.run_id == prep.id
    graph = ds_client.lineage("ds:churn@1")
    assert {(str(e.src), e.relation, str(e.dst)) for e in graph.upstream} == {
        (f"run:{prep.id}", "produced", "dataset:churn@1")}
    assert {(e.relation, str(e.dst)) for e in graph.downstream} == {("input", f"run:{train.id}")}
    assert ds_client.dataset_lineage("churn@latest").downstream == graph.downstream


def test_lineage_reaches_models_trained_on_a_version(ds_client: Client, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    ds_client.register_dataset("churn", small_frame())
    run = ds_client.create_run("train")
    train = ds_client.get_dataset("churn@1").to_pandas()
    ds_client.log_input(run.id, "churn@1")
    model = LogisticRegression().fit(train[["age"]], train["plan"] == "pro")
    ds_client.log_model(run.id, model, input_example=train[["age"]].head(3), registered_model_name="churn-model")
    ds_client.end_run(run.id)
    nodes = {str(e.dst) for e in ds_client.lineage("ds:churn@1").downstream}
    assert {f"run:{run.id}", "model_version:churn-model/1"} <= nodes


def test_a_contract_stops_bad_data_before_any_version_exists(ds_client: Client, tmp_path: Path) -> None:
    contract = Contract([Column("age", "int", nullable=False, min=0, max=60), Column("plan", allowed=["basic"])])
    contract.save(tmp_path / "c.yaml")
    with pytest.raises(InvalidInput) as refused:
        ds_client.register_dataset("churn", small_frame(), contract=tmp_path / "c.yaml")
    rules = {(v["column"], v["rule"]) for v in refused.value.report["violations"]}
    assert rules == {("age", "max"), ("plan", "allowed")}
    assert ds_client.list_datasets() == []
    ok = small_frame().assign(age=1, plan="basic")
    assert ds_client.register_dataset("churn", ok, contract=contract).version == 1


def test_infer_validate_and_diff_a_stored_version(ds_client: Client) -> None:
    ds_client.register_dataset("churn", small_frame())
    contract = ds_client.infer_contract("churn@1")
    assert contract["plan"].allowed == ("basic", "pro", "team") and not contract["age"].nullable
    assert ds_client.validate_dataset("churn@1", contract).passed
    newer = small_frame(shift=500.0).drop(columns=["plan"]).assign(region="eu")
    ds_client.register_dataset("churn", newer)
    report = ds_client.validate_dataset("churn@2", contract)
    assert {(v.column, v.rule) for v in report.violations} == {("plan", "present"), ("spend", "max")}
    diff = ds_client.diff_datasets("churn@1", "churn@2")
    assert diff.added == ["region"] and diff.removed == ["plan"]
    assert [c.name for c in diff.columns if c.shifted] == ["spend"]


def test_an_s3_prefix_registers_like_a_folder(s3_server: str, s3_env: str, tmp_path: Path) -> None:
    bucket = s3_env.removeprefix("s3://").split("/")[0]
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"raw/day={i}/part.csv", Body=f"x,y\n{i},a\n".encode())
    config = Config(home=tmp_path / "home", s3_endpoint_url=s3_server)
    with Client(config) as client:
        version = client.register_dataset("events", f"s3://{bucket}/raw/")
        assert version.format == "csv" and version.num_rows == 3 and version.source == f"s3://{bucket}/raw/"
        assert sorted(f.path for f in client.list_dataset_files("events")) == [
            f"day={i}/part.csv" for i in range(3)]
        assert client.register_dataset("events", f"s3://{bucket}/raw").version == 1
        with pytest.raises(InvalidInput, match="empty"):  # S3 cannot tell an absent prefix from an empty one
            client.register_dataset("events", f"s3://{bucket}/nothing-here-{uuid.uuid4().hex}/")


def test_lineage_accepts_a_dataset_reference_by_alias(tmp_path) -> None:
    import pandas as pd

    import shipyard

    client = shipyard.Client(home=tmp_path)
    client.register_dataset("churn", pd.DataFrame({"a": [1, 2]}))
    with shipyard.start_run("e", client=client) as run:
        shipyard.data.get("churn@latest", client=client).to_pandas()
    assert [str(e.dst) for e in client.lineage("ds:churn@latest").downstream] == [f"run:{run.id}"]
    client.close()


def test_the_fluent_infer_contract_takes_a_reference(tmp_path) -> None:
    import pandas as pd

    import shipyard

    client = shipyard.Client(home=tmp_path)
    shipyard.set_client(client)
    try:
        shipyard.data.register("churn", pd.DataFrame({"age": [30, 41], "plan": ["a", "b"]}))
        contract = shipyard.data.infer_contract("churn@1")
        assert [c.name for c in contract.columns] == ["age", "plan"]
        assert shipyard.datasets.validate(pd.DataFrame({"age": [35], "plan": ["a"]}), contract).passed
    finally:
        shipyard.set_client(None)
        client.close()


def test_fluent_dataset_calls_live_in_the_fluent_layer_and_the_domain_package_points_there() -> None:
    import importlib
    import pkgutil

    import shipyard.datasets as datasets

    for module in pkgutil.iter_modules(datasets.__path__):
        importlib.import_module(f"shipyard.datasets.{module.name}")
    assert callable(shipyard.data.register) and callable(shipyard.data.get)
    assert shipyard.data.register.__module__ == "shipyard.data"
    with pytest.raises(AttributeError, match=r"use shipyard\.data\.register"):
        datasets.register  # noqa: B018 - the attribute access is what is tested
    with pytest.raises(InvalidInput, match=r"shipyard\.data\.infer_contract\('churn@1'\)"):
        datasets.infer_contract("churn@1")
