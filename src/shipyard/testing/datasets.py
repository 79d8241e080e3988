"""Conformance suite for :class:`~shipyard.datasets._backend.DatasetStore` implementations.

Subclass :class:`DatasetStoreConformance` and provide a ``stores`` fixture giving
``(tracking_store, dataset_store)`` over the same backend. Registration goes
through :func:`~shipyard.datasets._registration.register_version`, the pipeline every
client uses, so the suite pins the whole contract: content addressing, dedup,
references, clean refusal of bad input, lineage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.datasets import DatasetHandle, DatasetStore, content_hash, register_version
from shipyard.errors import InvalidInput, NotFound
from shipyard.tracking import TrackingStore

__all__ = ["DatasetStoreConformance", "CountingStore", "handle_of", "small_frame"]

Stores = tuple[TrackingStore, DatasetStore]


def small_frame(n: int = 50, shift: float = 0.0) -> pd.DataFrame:
    """A small table with numeric, categorical and nullable columns."""
    return pd.DataFrame({
        "age": [20 + i % 50 for i in range(n)],
        "plan": [("basic", "pro", "team")[i % 3] for i in range(n)],
        "spend": [None if i % 10 == 0 else i * 1.5 + shift for i in range(n)],
    })


class CountingStore:
    """Wraps a store and counts the objects uploaded through it."""

    def __init__(self, store: DatasetStore) -> None:
        self.store = store
        self.uploaded: list[str] = []

    def put_object(self, path: Path, digest: str) -> None:
        self.uploaded.append(digest)
        self.store.put_object(path, digest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def handle_of(store: DatasetStore, ref: str, cache: Path) -> DatasetHandle:
    version = store.resolve(ref)
    return DatasetHandle(version, lambda: store.list_files(version.name, version.version),
                         lambda f, dest: store.fetch_object(version, f, dest), cache)


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


class DatasetStoreConformance:
    """Cases every dataset backend passes. Needs a ``stores`` fixture."""

    def test_same_content_gives_back_the_same_version(self, stores: Stores) -> None:
        _, store = stores
        first = register_version(store, "churn", small_frame())
        again = register_version(store, "churn", small_frame())
        changed = register_version(store, "churn", small_frame(shift=1.0))
        assert (first.version, again.version, changed.version) == (1, 1, 2)
        assert first.digest == again.digest != changed.digest
        assert first.format == "parquet" and first.num_rows == 50 and first.num_files == 1
        assert first.digest == content_hash(store.list_files("churn", 1))
        assert first.columns == ["age", "plan", "spend"]
        assert first.profile is not None and first.profile["spend"].nulls == 5

    def test_references_resolve_by_number_latest_and_hash(self, stores: Stores) -> None:
        _, store = stores
        v1 = register_version(store, "churn", small_frame())
        v2 = register_version(store, "churn", small_frame(shift=2.0))
        assert store.resolve("churn").version == 2
        assert store.resolve("ds:churn@latest").version == 2
        assert store.resolve("churn@1").digest == v1.digest
        assert store.resolve("churn", 1).digest == v1.digest
        assert store.resolve(f"churn@{v2.digest[:10]}").version == 2
        assert store.resolve(v1.digest).ref == "churn@1"
        assert getattr(store.find_version("churn", v2.digest), "version", None) == 2
        assert store.find_version("churn", "0" * 64) is None
        for missing in ("churn@7", "nope", "nope@1", "f" * 64):
            with pytest.raises(NotFound):
                store.resolve(missing)
        for bad in ("", "churn@", "churn@x!", "bad name", "churn@0"):
            with pytest.raises(InvalidInput):
                store.resolve(bad)

    def test_a_new_version_uploads_only_the_changed_files(self, stores: Stores, tmp_path: Path) -> None:
        _, store = stores
        files = {f"shard/{i:03}.txt": f"row {i}\n".encode() for i in range(40)}
        counting = CountingStore(store)
        register_version(counting, "docs", _folder(tmp_path / "a", files), workers=4)  # type: ignore[arg-type]
        assert len(counting.uploaded) == 40
        counting.uploaded.clear()
        files["shard/007.txt"] = b"changed\n"
        v2 = register_version(counting, "docs", _folder(tmp_path / "b", files), workers=4)  # type: ignore[arg-type]
        assert len(counting.uploaded) == 1 and v2.version == 2 and v2.format == "files"
        assert v2.num_rows is None and v2.profile is None
        listed = {f.path: f.size for f in store.list_files("docs", 2)}
        assert len(listed) == 40 and listed["shard/007.txt"] == 8

    def test_a_handle_reads_back_identical_bytes_and_tables(self, stores: Stores, tmp_path: Path) -> None:
        _, store = stores
        files = {"a.csv": b"x,y\n1,a\n2,b\n", "sub/b.csv": b"x,y\n3,c\n"}
        register_version(store, "tab", _folder(tmp_path / "src", files))
        handle = handle_of(store, "tab@1", tmp_path / "cache")
        folder = handle.path()
        assert {p: (folder / p).read_bytes() for p in files} == files
        assert handle.to_arrow().column("x").to_pylist() == [1, 2, 3]
        assert handle_of(store, "tab", tmp_path / "cache").path() == folder  # cached by content

    @pytest.mark.parametrize("case", ["ragged_csv", "truncated_parquet", "type_change", "empty_folder",
                                      "empty_frame", "header_only_csv", "bad_name", "control_name"])
    def test_bad_input_is_invalid_and_leaves_nothing(self, stores: Stores, tmp_path: Path, case: str) -> None:
        _, store = stores
        name, source = "bad", tmp_path / "src"
        source.mkdir()
        if case == "ragged_csv":
            (source / "d.csv").write_text("a,b\n1,2\n3\n")
        elif case == "truncated_parquet":
            pq.write_table(pa.table({"a": list(range(1000))}), source / "d.parquet")
            data = (source / "d.parquet").read_bytes()
            (source / "d.parquet").write_bytes(data[: len(data) // 2])
        elif case == "type_change":
            pq.write_table(pa.table({"a": [1, 2]}), source / "1.parquet")
            pq.write_table(pa.table({"a": ["x", "y"]}), source / "2.parquet")
        elif case == "empty_frame":
            source = pd.DataFrame({"a": pd.Series([], dtype="int64")})  # type: ignore[assignment]
        elif case == "header_only_csv":
            (source / "d.csv").write_text("a,b\n")
        elif case == "bad_name":
            name = "churn/../x"
            (source / "d.csv").write_text("a\n1\n")
        elif case == "control_name":
            name = "churn\n"
            (source / "d.csv").write_text("a\n1\n")
        with pytest.raises(InvalidInput):
            register_version(store, name, source)
        assert store.list_datasets() == []

    def test_lineage_records_inputs_and_producers(self, stores: Stores) -> None:
        tracking, store = stores
        producer, consumer = tracking.create_run("0"), tracking.create_run("0")
        v1 = register_version(store, "churn", small_frame(), run_id=producer.id)
        assert v1.run_id == producer.id
        store.record_lineage(consumer.id, "churn", 1, "input")
        store.record_lineage(consumer.id, "churn", 1, "input")  # idempotent
        graph = store.lineage("churn", 1)
        assert [(str(e.src), e.relation) for e in graph.upstream] == [(f"run:{producer.id}", "produced")]
        assert [(e.relation, str(e.dst)) for e in graph.downstream] == [("input", f"run:{consumer.id}")]
        with pytest.raises(NotFound):
            store.record_lineage("0" * 32, "churn", 1)
        with pytest.raises(NotFound):
            store.record_lineage(consumer.id, "churn", 9)
        with pytest.raises(InvalidInput):
            store.record_lineage(consumer.id, "churn", 1, "ate")

    def test_listing_datasets_and_versions(self, stores: Stores) -> None:
        _, store = stores
        for shift in (0.0, 1.0, 2.0):
            register_version(store, "b-set", small_frame(shift=shift), description=f"s{shift}", tags={"k": "v"})
        register_version(store, "a-set", small_frame())
        assert [(d.name, d.latest_version) for d in store.list_datasets()] == [("a-set", 1), ("b-set", 3)]
        versions = store.list_versions("b-set")
        assert [v.version for v in versions] == [3, 2, 1]
        assert versions[0].description == "s2.0" and versions[0].tags == {"k": "v"}
        assert store.get_version("b-set", 2).profile is not None
        with pytest.raises(NotFound):
            store.list_versions("nope")
        with pytest.raises(NotFound):
            store.list_files("b-set", 4)
