"""Definitions: argument checks, specs that round-trip, and on-demand functions found again by hash."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
from pathlib import Path

import pytest

from shipyard import features as sf
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.features._definitions import fingerprint, from_spec, parse_duration
from shipyard.features._udf import FunctionRef
from tests.features.defs_ondemand import spend_ratio

USER = sf.Entity("user", join_keys=["user_id"])


def test_durations_parse_to_microseconds() -> None:
    assert parse_duration("7d") == 7 * 86_400_000_000
    assert parse_duration("90s") == parse_duration(90) == parse_duration(dt.timedelta(seconds=90)) == 90_000_000
    assert parse_duration("1.5h") == 5_400_000_000 and parse_duration(None) is None
    for bad in ("7 days", "-1d", 0, "d", True, []):
        with pytest.raises(InvalidInput, match="ttl"):
            parse_duration(bad)


@pytest.mark.parametrize(("build", "field"), [
    (lambda: sf.Entity("bad name"), "name"),
    (lambda: sf.Entity("user", join_keys=[]), "join_keys"),
    (lambda: sf.Entity("user", join_keys="user_id"), "join_keys"),
    (lambda: sf.Entity("user", join_keys=["a", "a"]), "join_keys"),
    (lambda: sf.FeatureView("v", [USER], sf.ParquetSource("x"), {"a": "decimal"}), "features.a"),
    (lambda: sf.FeatureView("v", [USER], sf.ParquetSource("x"), {}), "features"),
    (lambda: sf.FeatureView("v", [USER], sf.ParquetSource("x"), {"user_id": "int64"}), "features"),
    (lambda: sf.FeatureView("v", [USER], sf.ParquetSource("x"), {"1a": "int64"}), "features"),
    (lambda: sf.FeatureView("v", USER, sf.ParquetSource("x"), {"a": "int64"}), "entities"),  # type: ignore[arg-type]
    (lambda: sf.FeatureView("v", [USER], "x.parquet", {"a": "int64"}), "source"),  # type: ignore[arg-type]
    (lambda: sf.FeatureView("v", [USER], sf.ParquetSource("x"), {"a": "int"}, ttl="soon"), "ttl"),
    (lambda: sf.ParquetSource("x", timestamp=""), "timestamp"),
    (lambda: sf.ParquetSource("x", timestamp="t", created_timestamp="t"), "created_timestamp"),
    (lambda: sf.SqlSource("t", url=""), "url"),
    (lambda: sf.OnDemandFeatureView("o", ["v"], {"x": "float64"}, spend_ratio), "features"),
    (lambda: sf.OnDemandFeatureView("o", [], {"x": "float64"}, spend_ratio), "inputs"),
    (lambda: sf.OnDemandFeatureView("o", ["v:a"], {"x": "float64"}, lambda df: df), "fn"),
])
def test_bad_arguments_name_the_field(build: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", [
    sf.ParquetSource("s3://bucket/stats/", timestamp="ts", created_timestamp="created"),
    sf.CsvSource("stats.csv", timestamp="ts", delimiter=";"),
    sf.DatasetSource("stats@3", timestamp="ts"),
    sf.SqlSource("SELECT * FROM stats", url="postgresql://u@h/db", timestamp="ts"),
])
def test_specs_round_trip(source: sf.sources.Source) -> None:
    view = sf.FeatureView("v", [USER], source, {"a": "float", "b": "str", "c": "timestamp"}, ttl="12h",
                          online=False, description="d", tags={"team": "growth"})
    spec = view.to_spec()
    assert spec["features"] == {"a": "float64", "b": "string", "c": "timestamp"}
    back = from_spec(spec)
    assert back == view and back.to_spec() == spec and fingerprint(back.to_spec()) == fingerprint(spec)
    demand = sf.OnDemandFeatureView("o", ["v:a", sf.RequestField("amount", "int")], {"x": "float64"}, spend_ratio)
    again = from_spec(demand.to_spec())
    assert isinstance(again, sf.OnDemandFeatureView) and again.to_spec() == demand.to_spec()
    assert again.resolve() is spend_ratio  # found again by module and name, its hash checked


def test_a_dataframe_source_comes_back_without_its_data() -> None:
    import pandas as pd

    view = sf.FeatureView("v", [USER], sf.DataFrameSource(pd.DataFrame({"a": [1]}), timestamp="ts"), {"a": "int64"})
    back = from_spec(view.to_spec())
    assert isinstance(back, sf.FeatureView) and back.source.df is None  # type: ignore[attr-defined]


def test_an_on_demand_function_whose_code_changed_is_refused(tmp_path: Path) -> None:
    module = tmp_path / "odfv_mod_x1.py"
    module.write_text(textwrap.dedent("""
        def fn(df):
            return df
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        import odfv_mod_x1  # type: ignore[import-not-found]

        ref = FunctionRef.of(odfv_mod_x1.fn)
        assert ref.load() is odfv_mod_x1.fn and ref.file == str(module)
        module.write_text(textwrap.dedent("""
            def fn(df):
                return df * 2
        """))
        del sys.modules["odfv_mod_x1"]
        with pytest.raises(Conflict, match="changed since it was applied"):
            ref.load()
        gone = FunctionRef("no_such_module_x1", "fn", ref.sha256, str(tmp_path / "missing.py"))
        with pytest.raises(NotFound, match="no_such_module_x1"):
            gone.load()
        # Not importable by name, but the recorded file is there: loaded from the file.
        by_file = FunctionRef("renamed_mod_x1", "fn", FunctionRef.of(_reload(module)).sha256, str(module))
        assert by_file.load()([3]) == [3, 3]
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("odfv_mod_x1", "renamed_mod_x1"):
            sys.modules.pop(name, None)


def _reload(path: Path) -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("probe_x1", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fn  # type: ignore[attr-defined]
