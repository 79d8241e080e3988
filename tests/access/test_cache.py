"""The token cache: one generation read per check, and no stale answer after any access change."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from shipyard.access import SqlAccessStore, TokenCache, User
from shipyard.store import Database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> SqlAccessStore:
    return SqlAccessStore(db)


class _Counting:
    """``store`` that counts its token lookups."""

    def __init__(self, store: SqlAccessStore) -> None:
        self.store, self.lookups = store, 0

    def generation(self) -> int:
        return self.store.generation()

    def token_owner(self, secret: str) -> tuple[User, int | None] | None:
        self.lookups += 1
        return self.store.token_owner(secret)


def test_every_access_write_moves_the_generation(store: SqlAccessStore) -> None:
    seen = [store.generation()]
    store.create_user("ana")
    seen.append(store.generation())
    record, _ = store.create_token("ana")
    seen.append(store.generation())
    store.set_role("ana", "editor")
    seen.append(store.generation())
    store.set_disabled("ana", True)
    seen.append(store.generation())
    store.revoke_token(record.id)
    seen.append(store.generation())
    store.grant("ana", "experiment", "0", "read")
    seen.append(store.generation())
    store.revoke_grant("ana", "experiment", "0")
    seen.append(store.generation())
    store.link_identity("ana", "https://id.example", "sub")
    seen.append(store.generation())
    assert seen == sorted(set(seen)), seen


def test_repeated_checks_of_one_token_read_the_database_once_per_generation(store: SqlAccessStore) -> None:
    store.create_user("ana")
    _, secret = store.create_token("ana")
    counting = _Counting(store)
    cache = TokenCache(counting)  # type: ignore[arg-type]
    for _ in range(5):
        user = cache.user_for_token(secret)
        assert user is not None and user.name == "ana"
        assert cache.user_for_token("not-a-token") is None
    assert counting.lookups == 2  # the live token and the miss, once each
    store.create_user("bo")  # any write moves the generation: the next check reads again
    assert cache.user_for_token(secret) is not None
    assert counting.lookups == 3


def test_a_cached_token_is_refused_at_the_next_check_after_revoke(store: SqlAccessStore) -> None:
    store.create_user("ana")
    record, secret = store.create_token("ana")
    cache = TokenCache(store)
    assert cache.user_for_token(secret) is not None
    store.revoke_token(record.id)
    assert cache.user_for_token(secret) is None


def test_a_cached_token_of_a_user_disabled_since_is_refused(store: SqlAccessStore) -> None:
    store.create_user("ana")
    _, secret = store.create_token("ana")
    cache = TokenCache(store)
    assert cache.user_for_token(secret) is not None
    store.set_disabled("ana", True)
    assert cache.user_for_token(secret) is None
    store.set_disabled("ana", False)
    assert cache.user_for_token(secret) is not None


def test_a_role_change_is_seen_at_the_next_check(store: SqlAccessStore) -> None:
    store.create_user("ana", "viewer")
    _, secret = store.create_token("ana")
    cache = TokenCache(store)
    before = cache.user_for_token(secret)
    assert before is not None and before.role == "viewer"
    store.set_role("ana", "admin")
    after = cache.user_for_token(secret)
    assert after is not None and after.role == "admin"


def test_a_token_created_after_a_cached_miss_is_accepted(store: SqlAccessStore) -> None:
    store.create_user("ana")
    cache = TokenCache(store)
    assert cache.user_for_token("tok") is None
    _, secret = store.create_token("ana")
    assert cache.user_for_token(secret) is not None


def test_an_expired_token_is_refused_even_when_cached(store: SqlAccessStore) -> None:
    store.create_user("ana")
    record, secret = store.create_token("ana", expires_in_ms=60_000)
    assert record.expires_at is not None
    now = [record.created_at]
    cache = TokenCache(store, clock=lambda: now[0])
    assert cache.user_for_token(secret) is not None
    now[0] = record.expires_at + 1  # the database's clock has not moved: the cache must refuse on its own
    assert cache.user_for_token(secret) is None
    assert cache.user_for_token(secret) is None


def test_the_cache_keeps_at_most_max_entries(store: SqlAccessStore) -> None:
    store.create_user("ana")
    _, secret = store.create_token("ana")
    cache = TokenCache(store, max_entries=3)
    assert cache.user_for_token(secret) is not None
    for i in range(10):
        assert cache.user_for_token(f"wrong-{i}") is None
    assert len(cache) == 3


def test_a_store_without_a_generation_is_not_cached() -> None:
    class Plain:
        def user_for_token(self, secret: str) -> User | None:
            return None

    assert not TokenCache.supports(Plain())


class _Watching(_Counting):
    """``store`` that counts its token lookups and passes on what it tells without I/O."""

    def generation_if_unchanged(self) -> int | None:
        return self.store.generation_if_unchanged()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlAccessStore]:
    database = Database(sqlite_url)
    database.ensure_schema()
    yield SqlAccessStore(database)
    database.dispose()


def test_cached_answers_from_memory_and_never_looks_a_token_up(
        sqlite_store: SqlAccessStore) -> None:
    sqlite_store.create_user("ana")
    _, secret = sqlite_store.create_token("ana")
    watching = _Watching(sqlite_store)
    cache = TokenCache(watching)  # type: ignore[arg-type]
    assert cache.cached(secret) == (False, None)  # never looked up: only user_for_token can tell
    user = cache.user_for_token(secret)
    assert cache.user_for_token("not-a-token") is None
    assert user is not None and cache.cached(secret) == (True, user)
    assert cache.cached("not-a-token") == (True, None)  # a refusal is remembered too
    assert cache.cached("never-seen") == (False, None)
    assert watching.lookups == 2


def test_cached_sees_a_revocation_committed_by_another_process_at_the_next_check(
        sqlite_store: SqlAccessStore, sqlite_url: str) -> None:
    sqlite_store.create_user("ana")
    record, secret = sqlite_store.create_token("ana")
    watching = _Watching(sqlite_store)
    cache = TokenCache(watching)  # type: ignore[arg-type]
    user = cache.user_for_token(secret)
    assert cache.cached(secret) == (True, user)
    path = sqlite_url.removeprefix("sqlite:///")
    touch = "import sqlite3; c = sqlite3.connect({!r}); c.execute({!r}); c.commit()"
    # Any commit sends the check back to a read of the generation, but not to a token lookup.
    subprocess.run([sys.executable, "-c", touch.format(path, "UPDATE access_state SET generation = generation")],
                   check=True, timeout=60)
    assert cache.cached(secret) == (False, None)
    assert cache.user_for_token(secret) == user and watching.lookups == 1
    assert cache.cached(secret) == (True, user)
    # A revocation committed by another process is refused at the next check.
    subprocess.run([sys.executable, "-c", f"from shipyard.access import SqlAccessStore; "
                    f"from shipyard.store import Database; "
                    f"SqlAccessStore(Database({sqlite_url!r})).revoke_token({record.id!r})"], check=True, timeout=60)
    assert cache.cached(secret) == (False, None)
    assert cache.user_for_token(secret) is None


def test_a_database_over_the_network_is_never_answered_without_a_read(pg_url: str) -> None:
    db = Database(pg_url)
    db.ensure_schema()
    store = SqlAccessStore(db)
    try:
        store.create_user("ana")
        _, secret = store.create_token("ana")
        cache = TokenCache(store)
        assert cache.user_for_token(secret) is not None
        assert store.generation_if_unchanged() is None
        assert cache.cached(secret) == (False, None)
    finally:
        store.close()
        db.dispose()

