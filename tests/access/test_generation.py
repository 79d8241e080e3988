"""Reading the access generation: on a connection of its own, and on SQLite known from shared memory until a commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from shipyard.access import SqlAccessStore
from shipyard.access._generation import GenerationReader
from shipyard.store import Database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.ensure_schema()
    yield database
    database.dispose()


class _CountingReader(GenerationReader):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.reads = 0

    def read(self) -> int:
        self.reads += 1
        return super().read()


def test_on_sqlite_the_generation_is_known_without_a_read_until_a_commit(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    db.ensure_schema()
    reader = _CountingReader(db)
    try:
        assert reader.known() is None  # nothing to compare with before a first read
        first = reader.read()
        assert [reader.known() for _ in range(3)] == [first] * 3
        assert reader.reads == 1
        SqlAccessStore(db).create_user("ana")  # another connection commits an access change
        assert reader.known() is None
        assert reader.read() == first + 1
        assert reader.known() == first + 1
    finally:
        reader.close()
        db.dispose()


def test_on_postgresql_the_generation_is_never_given_without_a_read(pg_url: str) -> None:
    db = Database(pg_url)
    db.ensure_schema()
    reader = GenerationReader(db)
    try:
        before = reader.read()
        SqlAccessStore(db).create_user("ana")
        assert reader.known() is None
        assert reader.read() == before + 1
    finally:
        reader.close()
        db.dispose()


def test_reading_the_generation_from_many_threads_holds_no_pooled_connection(db: Database) -> None:
    store = SqlAccessStore(db)
    read, release = threading.Barrier(9), threading.Event()

    def check() -> None:
        store.generation()
        read.wait(timeout=30)
        release.wait(timeout=30)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        read.wait(timeout=30)  # every thread has read and is still alive
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    store.close()
