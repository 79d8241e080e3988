"""Garbage collection on every backend pair: SQLite and PostgreSQL, local disk and S3 (moto)."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from fsspec.implementations.local import LocalFileSystem

from shipyard.datasets import DatasetFile, VersionSpec
from shipyard.datasets._sql_store import SqlDatasetStore
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry._sql_store import SqlRegistryStore
from shipyard.store import Database, collect_garbage, upgrade
from shipyard.store import schema as t
from shipyard.store.artifacts import ArtifactStore, FsspecArtifactStore, ObjectRef, open_artifact_store
from shipyard.testing.registry import fake_package_run
from shipyard.tracking import LogBatch
from shipyard.tracking._sql_store import SqlTrackingStore

_CREDENTIALS = {"key": "testing", "secret": "testing-secret"}
_S3_OPTIONS: dict[str, Any] = {**_CREDENTIALS, "client_kwargs": {"region_name": "us-east-1"}}
NOW = timedelta(0)
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def s3_bucket(s3_server: str) -> str:
    name = f"shipyard-gc-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, aws_access_key_id=_CREDENTIALS["key"],
                 aws_secret_access_key=_CREDENTIALS["secret"], region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def artifact_store(request: pytest.FixtureRequest, tmp_path: Path) -> FsspecArtifactStore:
    if request.param == "local":
        return FsspecArtifactStore.local(tmp_path / "artifacts")
    bucket = request.getfixturevalue("s3_bucket")
    return FsspecArtifactStore.s3(f"s3://{bucket}/{uuid.uuid4().hex}",
                                  endpoint_url=request.getfixturevalue("s3_server"), storage_options=_S3_OPTIONS)


@dataclass
class Stores:
    db: Database
    artifacts: FsspecArtifactStore
    tracking: SqlTrackingStore
    registry: SqlRegistryStore
    datasets: SqlDatasetStore

    def gc(self, **options: Any) -> Any:
        options.setdefault("grace", NOW)
        return collect_garbage(self.db, self.artifacts, **options)

    def stored(self, data: bytes) -> bool:
        return self.artifacts.exists(ref_of(data).digest)

    def age_blobs(self) -> None:
        """Make every blob stored so far older than a collection started now with no grace."""
        store = self.artifacts
        if isinstance(store.fs, LocalFileSystem):
            old = time.time() - 3600
            for folder, _, files in os.walk(os.path.join(store.root, "objects")):
                for name in files:
                    os.utime(os.path.join(folder, name), (old, old))
        else:
            time.sleep(1.1)  # S3 keeps whole seconds; the collector allows one for them

    def backdate_deletion(self, run_id: str, days: int) -> None:
        with self.db.write() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id == run_id)
                         .values(deleted_at=t.runs.c.deleted_at - days * DAY_MS))

    def deleted_at(self, run_id: str) -> int | None:
        with self.db.read() as conn:
            return conn.execute(sa.select(t.runs.c.deleted_at).where(t.runs.c.id == run_id)).scalar_one()


def ref_of(data: bytes) -> ObjectRef:
    return ObjectRef(hashlib.sha256(data).hexdigest(), len(data))


@pytest.fixture
def stores(db_url: str, artifact_store: FsspecArtifactStore, tmp_path: Path) -> Iterator[Stores]:
    db = Database(db_url)
    db.ensure_schema()
    tracking = SqlTrackingStore(db, artifact_store)
    yield Stores(db, artifact_store, tracking, SqlRegistryStore(db, artifact_store, tracking, tmp_path / "cache"),
                 SqlDatasetStore(db, artifact_store))
    db.dispose()


def log(stores: Stores, run_id: str, path: str, data: bytes) -> None:
    stores.tracking.log_artifact(run_id, path, io.BytesIO(data))


def rows_of(stores: Stores, run_id: str) -> dict[str, int]:
    with stores.db.read() as conn:
        return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)
                                         .where(table.c.run_id == run_id)).scalar_one()
                for table in (t.params, t.run_tags, t.metrics, t.latest_metrics, t.artifacts)}


# -- runs -------------------------------------------------------------------------------


def test_a_run_deleted_longer_ago_than_the_retention_goes_with_its_blobs_but_a_shared_blob_stays(
    stores: Stores,
) -> None:
    gone, kept = stores.tracking.create_run("0"), stores.tracking.create_run("0")
    stores.tracking.log_batch(LogBatch(params=[(gone.id, "lr", "0.1")], tags=[(gone.id, "team", "a")],
                                       metrics=[(gone.id, "auc", 0.9, 1, 0)]))
    log(stores, gone.id, "only.bin", b"only the deleted run")
    log(stores, gone.id, "shared.bin", b"shared by both runs")
    log(stores, kept.id, "copy.bin", b"shared by both runs")
    stores.tracking.update_run(gone.id, lifecycle_stage="deleted")
    stores.backdate_deletion(gone.id, days=31)
    stores.age_blobs()

    report = stores.gc()  # the default retention: 30 days

    assert report.runs == (gone.id,)
    assert report.blobs == (ref_of(b"only the deleted run"),)
    assert report.bytes_freed == len(b"only the deleted run") and not report.dry_run
    with pytest.raises(NotFound):
        stores.tracking.get_run(gone.id)
    assert rows_of(stores, gone.id) == {"params": 0, "run_tags": 0, "metrics": 0, "latest_metrics": 0,
                                        "artifacts": 0}
    assert not stores.stored(b"only the deleted run")
    assert b"".join(stores.tracking.open_artifact(kept.id, "copy.bin")) == b"shared by both runs"


def test_a_run_deleted_within_the_retention_keeps_its_records_and_blobs(stores: Stores) -> None:
    run = stores.tracking.create_run("0")
    log(stores, run.id, "model.bin", b"recently deleted")
    stores.tracking.update_run(run.id, lifecycle_stage="deleted")
    stores.backdate_deletion(run.id, days=29)
    stores.age_blobs()

    report = stores.gc(older_than=timedelta(days=30))

    assert report.runs == () and report.blobs == ()
    assert stores.tracking.get_run(run.id).lifecycle_stage == "deleted"
    assert b"".join(stores.tracking.open_artifact(run.id, "model.bin")) == b"recently deleted"


def test_deleting_a_run_records_when_and_restoring_it_clears_it(stores: Stores) -> None:
    run = stores.tracking.create_run("0")
    assert stores.deleted_at(run.id) is None
    before = time.time_ns() // 1_000_000
    stores.tracking.update_run(run.id, lifecycle_stage="deleted")
    first = stores.deleted_at(run.id)
    assert first is not None and before <= first <= time.time_ns() // 1_000_000
    stores.tracking.update_run(run.id, lifecycle_stage="deleted")
    assert stores.deleted_at(run.id) == first  # deleting again does not restart the retention
    stores.tracking.update_run(run.id, lifecycle_stage="active")
    assert stores.deleted_at(run.id) is None
    assert stores.gc(older_than=NOW).runs == ()


def test_a_deleted_run_without_a_deletion_time_starts_its_retention_at_the_first_collection(
    stores: Stores,
) -> None:
    run = stores.tracking.create_run("0")
    stores.tracking.update_run(run.id, lifecycle_stage="deleted")
    with stores.db.write() as conn:  # as an older Shipyard left it
        conn.execute(t.runs.update().where(t.runs.c.id == run.id).values(deleted_at=None))

    assert stores.gc(dry_run=True).runs == ()
    assert stores.gc(older_than=NOW, dry_run=True).runs == (run.id,)  # as a real collection would
    assert stores.deleted_at(run.id) is None  # a dry run writes nothing
    report = stores.gc()
    assert report.runs == () and stores.deleted_at(run.id) == report.started_at


def test_upgrading_gives_runs_deleted_before_it_a_deletion_time(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db, "0006")
        with db.write() as conn:
            for run_id, stage in (("a" * 32, "deleted"), ("b" * 32, "active")):
                conn.execute(sa.text(
                    "INSERT INTO runs (id, experiment_id, name, status, start_time, lifecycle_stage) "
                    "VALUES (:id, 0, 'r', 'FINISHED', 1, :stage)"), {"id": run_id, "stage": stage})
        before = time.time_ns() // 1_000_000
        db.ensure_schema()
        with db.read() as conn:
            stamped = dict(conn.execute(sa.select(t.runs.c.id, t.runs.c.deleted_at)).all())
        assert stamped["b" * 32] is None
        assert before <= stamped["a" * 32] <= time.time_ns() // 1_000_000
    finally:
        db.dispose()


# -- dry run ----------------------------------------------------------------------------


def test_a_dry_run_lists_what_would_go_and_removes_nothing(stores: Stores) -> None:
    run = stores.tracking.create_run("0")
    log(stores, run.id, "model.bin", b"would go")
    stores.artifacts.put_bytes(b"never referenced")
    stores.tracking.update_run(run.id, lifecycle_stage="deleted")
    stores.age_blobs()

    dry = stores.gc(older_than=NOW, dry_run=True)

    assert dry.dry_run and dry.runs == (run.id,)
    assert sorted(dry.blobs, key=lambda b: b.digest) == sorted(
        [ref_of(b"would go"), ref_of(b"never referenced")], key=lambda b: b.digest)
    assert stores.tracking.get_run(run.id).lifecycle_stage == "deleted"
    assert stores.stored(b"would go") and stores.stored(b"never referenced")
    real = stores.gc(older_than=NOW)
    assert (real.runs, sorted(real.blobs, key=lambda b: b.digest)) == (dry.runs, sorted(dry.blobs,
                                                                                        key=lambda b: b.digest))
    assert not stores.stored(b"would go") and not stores.stored(b"never referenced")


# -- concurrent writers ---------------------------------------------------------------


def test_a_blob_written_while_the_collection_runs_is_kept(stores: Stores) -> None:
    stores.artifacts.put_bytes(b"old garbage")
    stores.age_blobs()
    written = threading.Event()

    def writer() -> None:
        stores.artifacts.put_bytes(b"uploaded during the collection, recorded later")
        written.set()

    def on_phase(name: str) -> None:
        if name == "started":  # after the start time is taken, before the blobs are listed
            threading.Thread(target=writer).start()
            assert written.wait(30)

    report = stores.gc(on_phase=on_phase)

    assert report.blobs == (ref_of(b"old garbage"),)
    assert report.kept_young == 1
    assert stores.stored(b"uploaded during the collection, recorded later")


def test_a_reference_recorded_after_the_scan_saves_an_old_blob(stores: Stores) -> None:
    run = stores.tracking.create_run("0")
    stores.artifacts.put_bytes(b"orphan, then referenced again")
    stores.age_blobs()

    def on_phase(name: str) -> None:
        if name == "marked":  # the blob is a candidate now; a writer records it before the sweep
            log(stores, run.id, "again.bin", b"orphan, then referenced again")

    report = stores.gc(on_phase=on_phase)

    assert report.blobs == ()
    assert b"".join(stores.tracking.open_artifact(run.id, "again.bin")) == b"orphan, then referenced again"


def test_a_writer_logging_throughout_a_collection_loses_no_blob(stores: Stores) -> None:
    run = stores.tracking.create_run("0")
    stop, logged = threading.Event(), threading.Semaphore(0)
    errors: list[BaseException] = []

    def writer() -> None:
        n = 0
        try:
            while not stop.is_set():
                log(stores, run.id, f"step-{n}.bin", f"checkpoint {n}".encode())
                n += 1
                logged.release()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
            logged.release()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert logged.acquire(timeout=30)

        def on_phase(name: str) -> None:
            assert logged.acquire(timeout=30)  # at least one more artifact logged at every step

        stores.gc(on_phase=on_phase)
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    files = stores.tracking.list_artifacts(run.id)
    assert len(files) >= 6
    assert [f.path for f in files if not stores.artifacts.exists(f.digest)] == []


# -- model versions and dataset versions ----------------------------------------------


def test_a_model_version_keeps_its_blobs_after_its_run_is_purged_until_it_is_deleted(stores: Stores) -> None:
    run_id = fake_package_run(stores.tracking)
    version = stores.registry.create_model_version("churn", f"runs:/{run_id}/model")
    files = stores.registry.list_version_files("churn", version.version)
    stores.tracking.update_run(run_id, lifecycle_stage="deleted")
    stores.age_blobs()

    report = stores.gc(older_than=NOW)

    assert report.runs == (run_id,) and report.blobs == ()
    assert all(stores.artifacts.exists(f.digest) for f in files)
    assert stores.registry.materialize("churn", version.version).is_dir()

    stores.registry.delete_model_version("churn", version.version)
    report = stores.gc(older_than=NOW)
    assert sorted(report.blobs, key=lambda b: b.digest) == sorted(
        [ObjectRef(f.digest, f.size) for f in files], key=lambda b: b.digest)
    assert not any(stores.artifacts.exists(f.digest) for f in files)


def test_a_dataset_version_keeps_its_blobs_and_an_unregistered_upload_goes(stores: Stores, tmp_path: Path) -> None:
    files = []
    for name, data in (("a.csv", b"x,y\n1,2\n"), ("b.csv", b"x,y\n3,4\n")):
        path = tmp_path / name
        path.write_bytes(data)
        ref = ref_of(data)
        stores.datasets.put_object(path, ref.digest)
        files.append(DatasetFile(name, ref.digest, ref.size))
    stores.datasets.create_version("sales", VersionSpec(files=files, format="csv"))
    abandoned = tmp_path / "abandoned.csv"
    abandoned.write_bytes(b"uploaded, never registered")
    stores.datasets.put_object(abandoned, ref_of(b"uploaded, never registered").digest)
    run = stores.tracking.create_run("0")  # the same bytes logged by a run that is then purged
    log(stores, run.id, "a.csv", b"x,y\n1,2\n")
    stores.tracking.update_run(run.id, lifecycle_stage="deleted")
    stores.age_blobs()

    report = stores.gc(older_than=NOW)

    assert report.runs == (run.id,)
    assert report.blobs == (ref_of(b"uploaded, never registered"),)
    assert all(stores.artifacts.exists(f.digest) for f in files)
    dest = tmp_path / "back.csv"
    stores.datasets.fetch_object(stores.datasets.get_version("sales", 1), files[0], dest)
    assert dest.read_bytes() == b"x,y\n1,2\n"


def test_a_dataset_registered_after_the_scan_saves_its_old_blob(stores: Stores, tmp_path: Path) -> None:
    data = b"present before the registration"
    ref = ref_of(data)
    stores.artifacts.put_bytes(data)
    stores.age_blobs()

    def on_phase(name: str) -> None:
        if name == "marked":
            stores.datasets.create_version("late", VersionSpec(files=[DatasetFile("f", ref.digest, ref.size)],
                                                               format="bin"))

    assert stores.gc(on_phase=on_phase).blobs == ()
    assert stores.artifacts.get_bytes(ref.digest) == data


# -- arguments --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["older_than", "grace"])
@pytest.mark.parametrize("value", [timedelta(seconds=-1), 30])
def test_a_negative_or_non_timedelta_duration_is_invalid_input_naming_it(
    tmp_path: Path, name: str, value: object
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    with pytest.raises(InvalidInput) as info:
        collect_garbage(db, FsspecArtifactStore.local(tmp_path / "artifacts"), **{name: value})
    assert info.value.context["field"] == name
    assert not (tmp_path / "meta.db").exists()  # refused before touching anything


def test_a_store_that_cannot_list_its_objects_is_refused(tmp_path: Path) -> None:
    class Opaque(ArtifactStore):
        put_bytes = put_file = put_stream = get_bytes = get_file = open = exists = size = delete = None  # type: ignore

    with pytest.raises(InvalidInput) as info:
        collect_garbage(Database(f"sqlite:///{tmp_path / 'meta.db'}"), Opaque())
    assert info.value.context["field"] == "artifacts"


def test_gc_purges_idempotency_keys_older_than_a_day(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'keys.db'}")
    db.ensure_schema()
    now = time.time_ns() // 1_000_000
    with db.write() as conn:
        conn.execute(sa.insert(t.idempotency_keys), [
            {"key": "old", "scope": "POST /api/v1/runs/log-batch", "created_at": now - 25 * 3600 * 1000,
             "response": "{}"},
            {"key": "new", "scope": "POST /api/v1/runs/log-batch", "created_at": now - 3600 * 1000,
             "response": "{}"},
        ])
    assert collect_garbage(db, open_artifact_store(str(tmp_path / "blobs")), dry_run=True).idempotency_keys == 1
    assert collect_garbage(db, open_artifact_store(str(tmp_path / "blobs"))).idempotency_keys == 1
    with db.read() as conn:
        assert list(conn.scalars(sa.select(t.idempotency_keys.c.key))) == ["new"]
