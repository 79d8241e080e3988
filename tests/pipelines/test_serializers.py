"""Outputs round-trip through type-aware serializers; an unknown type gets a clear error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.pipelines import NoSerializer, SerializerRegistry
from shipyard.pipelines._serializers import PickleSerializer


@pytest.fixture
def registry() -> SerializerRegistry:
    return SerializerRegistry()


def roundtrip(registry: SerializerRegistry, value: Any) -> tuple[str, Any]:
    name, data = registry.dumps(value)
    return name, registry.loads(name, data)


def test_a_dataframe_is_stored_as_parquet(registry: SerializerRegistry) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[10, 20])
    name, back = roundtrip(registry, df)
    assert name == "parquet"
    pd.testing.assert_frame_equal(back, df)


def test_an_array_is_stored_as_npy(registry: SerializerRegistry) -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    name, back = roundtrip(registry, arr)
    assert name == "npy" and back.dtype == np.float32
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("value", [None, 3, 2.5, "s", [1, "a", None], {"k": {"n": [1.5]}}, np.float64(0.25)])
def test_json_values_are_stored_as_json(registry: SerializerRegistry, value: Any) -> None:
    assert roundtrip(registry, value) == ("json", value)


def test_tuples_and_mixed_containers_keep_each_part_in_its_own_format(registry: SerializerRegistry) -> None:
    df = pd.DataFrame({"a": [1.0]})
    name, back = roundtrip(registry, (df, np.zeros(2), {"auc": 0.9}))
    assert name == "container" and isinstance(back, tuple)
    pd.testing.assert_frame_equal(back[0], df)
    assert back[1].tolist() == [0.0, 0.0] and back[2] == {"auc": 0.9}
    name, back = roundtrip(registry, {"train": df, "n": 1})
    assert name == "container" and back["n"] == 1


def test_a_model_is_stored_as_a_verified_model_package(registry: SerializerRegistry) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.array([0, 1] * 20)
    model = LogisticRegression().fit(X, y)
    name, data = registry.dumps(model)
    assert name == "model"
    back = registry.loads(name, data)
    assert isinstance(back, LogisticRegression)
    np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X))


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


def test_a_type_without_a_serializer_is_a_clear_error(registry: SerializerRegistry) -> None:
    with pytest.raises(NoSerializer) as info:
        registry.dumps(Point(1))
    assert info.value.type_name == "tests.pipelines.test_serializers.Point"  # type: ignore[attr-defined]
    assert "pipeline.serializers.register" in str(info.value)


class PointSerializer:
    name, extension = "point", "txt"

    def handles(self, value: Any) -> bool:
        return isinstance(value, Point)

    def dumps(self, value: Point) -> bytes:
        return str(value.x).encode()

    def loads(self, data: bytes) -> Point:
        return Point(int(data))


def test_a_registered_serializer_is_used_before_the_defaults(registry: SerializerRegistry) -> None:
    registry.register(PointSerializer())
    name, back = roundtrip(registry, Point(7))
    assert name == "point" and back.x == 7
    assert roundtrip(registry, (Point(1), 2))[1][0].x == 1  # inside containers too
    assert SerializerRegistry().find(Point(1)) is None  # each registry is its own


def test_pickle_is_never_a_default_but_can_be_opted_into() -> None:
    assert "pickle" not in [s.name for s in SerializerRegistry().serializers]
    opted = SerializerRegistry([PickleSerializer()])
    assert roundtrip(opted, Point(3))[1].x == 3


def test_dataset_versions_are_stored_by_reference() -> None:
    from shipyard.datasets import DatasetVersion

    registry = SerializerRegistry()
    version = DatasetVersion(name="churn", version=3, digest="ab" * 32, format="parquet", num_files=1, num_bytes=10)
    name, data = registry.dumps(version)
    assert name == "dataset" and len(data) < 200
    back = registry.loads(name, data)
    assert (back.name, back.version, back.digest) == ("churn", 3, "ab" * 32)
