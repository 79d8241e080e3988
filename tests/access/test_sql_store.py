"""The access store on SQLite and PostgreSQL: users, tokens, grants, and the refusals of bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shipyard.access import Grant, SqlAccessStore, hash_token
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
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
    for resource_type, resource_id, permission, field, error in [
        ("experiment", "99", "edit", "resource_id", NotFound), ("registered_model", "nope", "edit", "resource_id",
                                                                 NotFound),
        ("experiment", "9" * 30, "edit", "resource_id", NotFound), ("experiment", "", "edit", "resource_id",
                                                                    InvalidInput),
        ("experiment", "7", "own", "permission", InvalidInput), ("dataset", "7", "read", "resource_type",
                                                                 InvalidInput),
    ]:
        with pytest.raises(error) as info:
            store.grant("ana", resource_type, resource_id, permission)
        assert info.value.field == field  # type: ignore[attr-defined]
    assert len(store.get_user("ana").grants) == 1
    assert store.revoke_grant("ana", "experiment", "7") == Grant("ana", "experiment", "7", "manage")
    assert store.get_user("ana").grants == ()


def test_revoking_a_grant_that_is_not_held_is_not_found_and_moves_nothing(store: SqlAccessStore) -> None:
    store.create_user("ana")
    generation = store.generation()
    with pytest.raises(NotFound) as info:
        store.revoke_grant("ana", "experiment", "0")
    assert info.value.field == "resource_id"  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        store.revoke_grant("nobody", "experiment", "0")
    with pytest.raises(InvalidInput) as bad:
        store.revoke_grant("ana", "dataset", "0")
    assert bad.value.field == "resource_type"  # type: ignore[attr-defined]
    assert store.generation() == generation


def test_lists_are_read_a_page_at_a_time_after_a_cursor(store: SqlAccessStore, db: Database) -> None:
    for name in ["cy", "ana", "bo", "di", "ed"]:
        store.create_user(name)
    first = store.list_users(max_results=2)
    assert [u.name for u in first] == ["ana", "bo"] and first.next_page_token
    store.create_user("al")  # sorts before the cursor: neither repeated nor shifting the next page
    second = store.list_users(max_results=2, page_token=first.next_page_token)
    assert [u.name for u in second] == ["cy", "di"]
    last = store.list_users(max_results=2, page_token=second.next_page_token)
    assert [u.name for u in last] == ["ed"] and last.next_page_token is None
    assert [u.name for u in store.list_users()] == ["al", "ana", "bo", "cy", "di", "ed"]

    made = [store.create_token("ana", f"t{i}")[0].id for i in range(5)]
    seen, token = [], None
    while True:
        page = store.list_tokens("ana", max_results=2, page_token=token)
        seen += [tk.id for tk in page]
        if not (token := page.next_page_token):
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5

    with db.write() as conn:
        conn.execute(t.registered_models.insert(), [{"name": m, "created_at": 0, "updated_at": 0}
                                                    for m in ("m1", "m2", "m3")])
    for m in ("m3", "m1", "m2"):
        store.grant("bo", "registered_model", m, "read")
    store.grant("bo", "experiment", "0", "edit")
    grants = store.list_grants("bo", max_results=3)
    assert [(g.resource_type, g.resource_id) for g in grants] == [
        ("experiment", "0"), ("registered_model", "m1"), ("registered_model", "m2")]
    rest = store.list_grants("bo", max_results=3, page_token=grants.next_page_token)
    assert [g.resource_id for g in rest] == ["m3"] and rest.next_page_token is None
    with pytest.raises(NotFound):
        store.list_grants("nobody")


@pytest.mark.parametrize("token", ["garbage", "e30", "eyJrIjoidG9rZW5zIiwiYSI6WzEsIngiXX0"])
def test_a_malformed_or_foreign_page_token_names_the_field(store: SqlAccessStore, token: str) -> None:
    # The last is a well-formed token of the token list, refused by the user list.
    with pytest.raises(InvalidInput) as info:
        store.list_users(max_results=10, page_token=token)
    assert info.value.field == "page_token"  # type: ignore[attr-defined]


@pytest.mark.parametrize("max_results", [0, -1, 10_001, True])
def test_a_page_size_out_of_range_names_the_field(store: SqlAccessStore, max_results: int) -> None:
    with pytest.raises(InvalidInput) as info:
        store.list_tokens(max_results=max_results)
    assert info.value.field == "max_results"  # type: ignore[attr-defined]


def test_a_token_is_looked_up_by_id(store: SqlAccessStore) -> None:
    store.create_user("ana")
    record, _ = store.create_token("ana", "ci")
    assert store.get_token(record.id) == record
    with pytest.raises(NotFound):
        store.get_token("x" * 500)


def test_a_sign_on_account_is_linked_once_and_never_relinked(store: SqlAccessStore) -> None:
    issuer = "https://id.example"
    assert store.user_for_identity(issuer, "sub-1") is None
    created = store.link_identity("ana", issuer, "sub-1", role="editor")
    assert (created.name, created.role) == ("ana", "editor")
    assert store.user_for_identity(issuer, "sub-1") == created
    assert store.link_identity("ana", issuer, "sub-1") == created  # linking again is a no-op
    # Another account (or the same subject at another issuer) claiming the name is refused.
    for other_issuer, other_subject in [(issuer, "sub-2"), ("https://other.example", "sub-1")]:
        with pytest.raises(Conflict):
            store.link_identity("ana", other_issuer, other_subject, role="admin")
        assert store.user_for_identity(other_issuer, other_subject) is None
    assert store.get_user("ana").role == "editor"
    # A user made before single sign-on is linked on first use, by an existing name only.
    store.create_user("bo", "viewer", "correct horse")
    assert store.link_identity("bo", issuer, "sub-3").name == "bo"
    assert store.user_for_identity(issuer, "sub-3") is not None
    with pytest.raises(NotFound):
        store.link_identity("cy", issuer, "sub-4")
    # One account links to one user at most.
    store.create_user("di")
    with pytest.raises(Conflict):
        store.link_identity("di", issuer, "sub-1")
    assert store.user_for_identity(issuer, "sub-1").name == "ana"  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "issuer", "subject", "field"), [
    ("<b>x</b>", "https://id.example", "s", "name"),
    ("x" * 65, "https://id.example", "s", "name"),
    ("ana", "", "s", "issuer"),
    ("ana", "https://id.example", "s" * 256, "subject"),
])
def test_linking_a_bad_identity_names_the_field_and_stores_nothing(store: SqlAccessStore, name: str, issuer: str,
                                                                   subject: str, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        store.link_identity(name, issuer, subject, role="viewer")
    assert info.value.field == field  # type: ignore[attr-defined]
    assert not store.has_users()


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
