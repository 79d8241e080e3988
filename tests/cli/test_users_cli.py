"""``shipyard users`` and ``shipyard tokens``, as a real subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shipyard.access import SqlAccessStore
from shipyard.config import Config
from shipyard.store import Database
from tests.cli.test_cli import SHIPYARD, run_cli


def users(home: Path) -> list[dict[str, object]]:
    listed = run_cli(home, "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout)["items"])


def test_create_list_set_role_disable_and_enable(tmp_path: Path) -> None:
    created = run_cli(tmp_path, "users", "create", "ana", "--role", "editor")
    assert created.returncode == 0, created.stderr
    assert "created user ana (editor)" in created.stdout
    assert run_cli(tmp_path, "users", "set-role", "ana", "approver").returncode == 0
    assert run_cli(tmp_path, "users", "disable", "ana").returncode == 0
    assert [(u["name"], u["role"], u["disabled"]) for u in users(tmp_path)] == [("ana", "approver", True)]
    assert run_cli(tmp_path, "users", "enable", "ana").returncode == 0
    assert "ana" in run_cli(tmp_path, "users", "list").stdout


def test_a_password_is_read_from_stdin_never_from_the_command_line(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")} | {"SHIPYARD_HOME": str(tmp_path)}
    done = subprocess.run([SHIPYARD, "users", "create", "ana", "--password-stdin"], input="correct horse\n",
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    db = Database(Config(home=tmp_path).database_url)
    try:
        assert SqlAccessStore(db).check_password("ana", "correct horse") is not None
    finally:
        db.dispose()


def test_a_token_is_printed_once_listed_without_its_secret_and_revoked(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "users", "create", "ana").returncode == 0
    created = run_cli(tmp_path, "tokens", "create", "ana", "--name", "laptop")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("shp_") and "not shown again" in created.stderr
    listed = run_cli(tmp_path, "tokens", "list", "--json")
    items = json.loads(listed.stdout)["items"]
    assert [(t["user"], t["name"], t["revoked_at"]) for t in items] == [("ana", "laptop", None)]
    assert secret not in listed.stdout
    assert run_cli(tmp_path, "tokens", "revoke", items[0]["id"]).returncode == 0
    assert json.loads(run_cli(tmp_path, "tokens", "list", "--json").stdout)["items"][0]["revoked_at"] is not None


@pytest.mark.parametrize(("args", "field"), [
    (("users", "create", "<b>ana</b>"), "name"),
    (("users", "create", "a" * 300), "name"),
    (("users", "create", "ana", "--role", "root"), "role"),
    (("users", "grant", "ana", "edit", "--experiment", "42"), "--experiment"),
    (("users", "grant", "ana", "own", "--model", "churn"), "permission"),
])
def test_bad_input_exits_1_naming_the_field_and_stores_nothing(tmp_path: Path, args: tuple[str, ...],
                                                               field: str) -> None:
    if args[1] == "grant":
        assert run_cli(tmp_path, "users", "create", "ana").returncode == 0
    before = users(tmp_path)
    done = run_cli(tmp_path, *args)
    assert done.returncode == 1
    assert field in done.stderr and "Traceback" not in done.stderr
    assert users(tmp_path) == before


def test_a_token_lifetime_is_shown_and_a_bad_one_refused(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "users", "create", "ana").returncode == 0
    assert run_cli(tmp_path, "tokens", "create", "ana", "--expires", "30d").returncode == 0
    item = json.loads(run_cli(tmp_path, "tokens", "list", "--json").stdout)["items"][0]
    assert item["expires_at"] - item["created_at"] == 30 * 86_400_000
    bad = run_cli(tmp_path, "tokens", "create", "ana", "--expires", "soon")
    assert bad.returncode == 1 and "expires" in bad.stderr
    assert len(json.loads(run_cli(tmp_path, "tokens", "list", "--json").stdout)["items"]) == 1


def test_tokens_for_a_missing_user_are_refused(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "tokens", "create", "ghost")
    assert done.returncode == 1 and "ghost" in done.stderr


def test_a_users_grants_are_listed_and_revoked(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "users", "create", "ana").returncode == 0
    assert run_cli(tmp_path, "users", "grant", "ana", "edit", "--experiment", "0").returncode == 0
    listed = run_cli(tmp_path, "users", "grants", "ana", "--json")
    assert json.loads(listed.stdout)["items"] == [{"user": "ana", "resource_type": "experiment", "resource_id": "0",
                                                    "permission": "edit"}]
    revoked = run_cli(tmp_path, "users", "revoke", "ana", "--experiment", "0")
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked edit on experiment 0 from ana" in revoked.stdout
    assert json.loads(run_cli(tmp_path, "users", "grants", "ana", "--json").stdout)["items"] == []
    again = run_cli(tmp_path, "users", "revoke", "ana", "--experiment", "0")
    assert again.returncode == 1 and "NotFound" in again.stderr and "Traceback" not in again.stderr
    both = run_cli(tmp_path, "users", "revoke", "ana", "--experiment", "0", "--model", "churn")
    assert both.returncode == 1 and "--experiment or --model" in both.stderr


def test_granting_on_an_experiment_name_says_the_option_takes_an_id_and_gives_it(tmp_path: Path) -> None:
    from shipyard import Client

    with Client(Config(home=tmp_path)) as client:
        churn = client.create_experiment("churn")
    assert run_cli(tmp_path, "users", "create", "bob").returncode == 0
    done = run_cli(tmp_path, "users", "grant", "bob", "manage", "--experiment", "churn", columns=None)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: NotFound: --experiment takes an experiment id, and no experiment has the id 'churn'; "
        f"the experiment named 'churn' has id {churn.id}: pass --experiment {churn.id}")
    assert "resource_id" not in done.stderr
    unknown = run_cli(tmp_path, "users", "grant", "bob", "manage", "--experiment", "nope", columns=None)
    assert unknown.returncode == 1 and "shipyard experiments list" in unknown.stderr
    assert run_cli(tmp_path, "users", "grant", "bob", "manage", "--experiment", churn.id).returncode == 0
