"""The access store on SQLite and PostgreSQL: users, tokens, grants, and the refusals of bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shipyard.access import SqlAccessStore, hash_token
from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.store import Database
from shipyard.store import schema as t


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> SqlAccessStore:
    return SqlAccessStore(db)


def test_a_new_store_has_no_users_and_the_first_user_is_listed(store: SqlAccessStore) -> None:
    assert not store.has_users()
    created = store.create_user("ana", "editor", "correct horse")
    assert (created.name, created.role, created.disabled, created.grants) == ("ana", "editor", False, ())
    assert store.has_users()
    assert [u.name for u in store.list_users()] == ["ana"]
    assert store.get_user("ana") == created


def test_passwords_are_stored_as_argon2id_and_checked(store: SqlAccessStore, db: Database) -> None:
    store.create_user("ana", "viewer", "correct horse")
    with db.read() as conn:
        stored = conn.execute(sa.select(t.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert store.check_password("ana", "correct horse") is not None
    assert store.check_password("ana", "wrong horse") is None
    assert store.check_password("nobody", "correct horse") is None


def test_a_token_is_returned_once_and_stored_only_as_its_hash(store: SqlAccessStore, db: Database) -> None:
    store.create_user("ana", "editor")
    record, secret = store.create_token("ana", "laptop")
    with db.read() as conn:
        row = conn.execute(sa.select(t.access_tokens)).one()
    assert row.token_hash == hash_token(secret) and secret not in str(tuple(row))
    user = store.user_for_token(secret)
    assert user is not None and user.name == "ana"
    assert [tk.id for tk in store.list_tokens("ana")] == [record.id]
    assert store.user_for_token(secret + "x") is None


def test_a_revoked_token_and_a_disabled_user_are_refused(store: SqlAccessStore) -> None:
    store.create_user("ana", "editor", "correct horse")
    record, secret = store.create_token("ana")
    _, other = store.create_token("ana")
    assert store.revoke_token(record.id).revoked
    assert store.user_for_token(secret) is None
    store.set_disabled("ana")
    assert store.user_for_token(other) is None
    assert store.check_password("ana", "correct horse") is None
    store.set_disabled("ana", False)
    assert store.user_for_token(other) is not None


def test_set_role_changes_the_role_and_refuses_an_unknown_one(store: SqlAccessStore) -> None:
    store.create_user("ana")
    assert store.set_role("ana", "approver").role == "approver"
    with pytest.raises(InvalidInput) as info:
        store.set_role("ana", "superuser")
    assert info.value.field == "role"  # type: ignore[attr-defined]
    assert store.get_user("ana").role == "approver"
    with pytest.raises(NotFound):
        store.set_role("nobody", "viewer")


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "a" * 65, "", " ana", "ana bob", "-ana"])
def test_a_bad_user_name_is_refused_and_nothing_is_stored(store: SqlAccessStore, name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        store.create_user(name)
    assert info.value.field == "name"  # type: ignore[attr-defined]
    assert len(str(info.value)) < 300
    assert not store.has_users()


def test_an_unknown_role_a_short_password_and_a_duplicate_user_are_refused(store: SqlAccessStore) -> None:
    with pytest.raises(InvalidInput) as info:
        store.create_user("ana", "root")
    assert info.value.field == "role"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as info:
        store.create_user("ana", "viewer", "short")
    assert info.value.field == "password"  # type: ignore[attr-defined]
    assert not store.has_users()
    store.create_user("ana")
    with pytest.raises(AlreadyExists):
        store.create_user("ana")


def test_grants_need_an_existing_resource_and_replace_each_other(store: SqlAccessStore, db: Database) -> None:
    store.create_user("ana")
    with db.write() as conn:
        conn.execute(t.experiments.insert().values(id=7, name="churn", lifecycle_stage="active",
                                                   created_at=0, updated_at=0))
    store.grant("ana", "experiment", "7", "read")
    store.grant("ana", "experiment", "7", "manage")
    assert [(g.resource_type, g.resource_id, g.permission) for g in store.get_user("ana").grants] == [
        ("experiment", "7", "manage")]
    for resource_type, resource_id, permission, field in [
        ("experiment", "99", "edit", "resource_id"), ("registered_model", "nope", "edit", "resource_id"),
        ("experiment", "7", "own", "permission"), ("dataset", "7", "read", "resource_type"),
    ]:
        with pytest.raises(InvalidInput) as info:
            store.grant("ana", resource_type, resource_id, permission)
        assert info.value.field == field  # type: ignore[attr-defined]
    assert len(store.get_user("ana").grants) == 1
    store.revoke_grant("ana", "experiment", "7")
    assert store.get_user("ana").grants == ()


def test_an_expired_token_is_refused(store: SqlAccessStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import shipyard.access._sql_store as module

    store.create_user("ana")
    record, secret = store.create_token("ana", expires_in_ms=60_000)
    assert record.expires_at == record.created_at + 60_000
    assert store.user_for_token(secret) is not None
    monkeypatch.setattr(module, "now_ms", lambda: record.created_at + 60_001)
    assert store.user_for_token(secret) is None
    with pytest.raises(InvalidInput) as info:
        store.create_token("ana", expires_in_ms=0)
    assert info.value.field == "expires_in_ms"  # type: ignore[attr-defined]
