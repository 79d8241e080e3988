"""``shipyard users create|list|disable|enable|set-role|grant|revoke|grants``: the server's user accounts.

With ``SHIPYARD_URL`` set these commands manage the users of that server over its REST
API (``SHIPYARD_TOKEN`` must be an admin's); without it they work on the configured
metadata database directly (run them where the server runs, with its configuration).
Creating the first user turns authentication on for ``shipyard server``. Lists are read
whole, page after page.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.config import load_config
from shipyard.errors import ConfigError, InvalidInput, NotFound, ShipyardError

if TYPE_CHECKING:
    from shipyard.access import SqlAccessStore, User
    from shipyard.remote._access import RemoteAccessStore

app = typer.Typer(help="User accounts, roles and per-resource grants of the server.", no_args_is_help=True)


@contextmanager
def access_store() -> Iterator[SqlAccessStore]:
    """The access store on the configured database (never through a remote server)."""
    # Imported here: SQLAlchemy would otherwise load with every command of the CLI.
    from shipyard.access import SqlAccessStore
    from shipyard.store import Database

    config = load_config()
    if config.url:
        raise ConfigError("managing users needs direct database access: unset SHIPYARD_URL and run this "
                          "where the server's database is configured", field="url")
    db = Database(config.database_url)
    try:
        db.ensure_schema()
        yield SqlAccessStore(db)
    finally:
        db.dispose()


@contextmanager
def management_store() -> Iterator[SqlAccessStore | RemoteAccessStore]:
    """The users and tokens of the server at ``SHIPYARD_URL`` when it is set, else of the configured database."""
    config = load_config()
    if not config.url:
        with access_store() as local:
            yield local
        return
    from shipyard.remote._access import RemoteAccessStore
    from shipyard.remote._http import RetryPolicy

    remote = RemoteAccessStore(config.url, config.token, RetryPolicy.from_config(config))
    try:
        yield remote
    finally:
        remote.close()


def _user_json(user: User) -> dict[str, object]:
    return {"name": user.name, "role": user.role, "disabled": user.disabled, "created_at": user.created_at,
            "grants": [{"resource_type": g.resource_type, "resource_id": g.resource_id,
                        "permission": g.permission} for g in user.grants]}


@app.command("create")
def create(name: str = typer.Argument(..., help="User name: letters, digits and ._@- (at most 64)."),
           role: str = typer.Option("viewer", "--role", help="viewer, editor, approver or admin."),
           password_stdin: bool = typer.Option(False, "--password-stdin",
                                               help="Read a password (for basic auth) from the first line of stdin.")
           ) -> None:
    """Create a user. Without a password the user signs in with tokens (shipyard tokens create)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on stdin", field="password")
    with management_store() as store:
        user = store.create_user(name, role, password)
    console.print(f"created user {user.name} ({user.role})", markup=False, highlight=False)


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List users with their roles and grants."""
    with management_store() as store:
        users = store.list_users()
    if as_json:
        print_json({"items": [_user_json(u) for u in users]})
        return
    console.print(table("Users", ["name", "role", "disabled", "created", "grants"], [
        [u.name, u.role, "yes" if u.disabled else "no", fmt_time(u.created_at),
         ", ".join(f"{g.permission} on {g.resource_type} {g.resource_id}" for g in u.grants) or "-"]
        for u in users]))


@app.command("disable")
def disable(name: str = typer.Argument(..., help="User name")) -> None:
    """Disable a user: their tokens and password are refused from the next request on."""
    with management_store() as store:
        store.set_disabled(name, True)
    console.print(f"disabled user {name}", markup=False, highlight=False)


@app.command("enable")
def enable(name: str = typer.Argument(..., help="User name")) -> None:
    """Enable a disabled user again."""
    with management_store() as store:
        store.set_disabled(name, False)
    console.print(f"enabled user {name}", markup=False, highlight=False)


@app.command("set-role")
def set_role(name: str = typer.Argument(..., help="User name"),
             role: str = typer.Argument(..., help="viewer, editor, approver or admin.")) -> None:
    """Change a user's global role."""
    with management_store() as store:
        user = store.set_role(name, role)
    console.print(f"user {user.name} is now {user.role}", markup=False, highlight=False)


def _resource(experiment: str | None, model: str | None) -> tuple[str, str]:
    if (experiment is None) == (model is None):
        raise InvalidInput("name exactly one of --experiment or --model", field="resource")
    return ("experiment", str(experiment)) if experiment is not None else ("registered_model", str(model))


def _no_experiment_with_id(value: str) -> str:
    """Why ``--experiment VALUE`` names nothing, with the id to pass when VALUE is an experiment's name."""
    from shipyard.client import Client

    said = f"--experiment takes an experiment id, and no experiment has the id {value!r:.60}"
    try:
        with Client() as client:
            found = client.get_experiment_by_name(value)
    except ShipyardError:
        return f"{said} ('shipyard experiments list' shows the ids)"
    return f"{said}; the experiment named {value!r:.60} has id {found.id}: pass --experiment {found.id}"


_EXPERIMENT = typer.Option(None, "--experiment", help="An experiment id (see 'shipyard experiments list').")
_MODEL = typer.Option(None, "--model", help="A registered model's name.")


@app.command("grant")
def grant(name: str = typer.Argument(..., help="User name"),
          permission: str = typer.Argument(..., help="read, edit or manage."),
          experiment: str | None = _EXPERIMENT, model: str | None = _MODEL) -> None:
    """Give a user a permission on one experiment or registered model."""
    resource_type, resource_id = _resource(experiment, model)
    with management_store() as store:
        try:
            g = store.grant(name, resource_type, str(resource_id), permission)
        except NotFound as exc:
            if experiment is None or exc.context.get("field") != "resource_id":
                raise
            raise NotFound(_no_experiment_with_id(experiment), resource="experiment", field="experiment") from None
    console.print(f"granted {g.permission} on {g.resource_type} {g.resource_id} to {g.user}",
                  markup=False, highlight=False)


@app.command("revoke")
def revoke(name: str = typer.Argument(..., help="User name"),
           experiment: str | None = _EXPERIMENT, model: str | None = _MODEL) -> None:
    """Take back a user's grant on one experiment or registered model."""
    resource_type, resource_id = _resource(experiment, model)
    with management_store() as store:
        g = store.revoke_grant(name, resource_type, resource_id)
    console.print(f"revoked {g.permission} on {g.resource_type} {g.resource_id} from {g.user}",
                  markup=False, highlight=False)


@app.command("grants")
def grants(name: str = typer.Argument(..., help="User name"), as_json: bool = JSON_OPTION) -> None:
    """List a user's grants."""
    with management_store() as store:
        held = list(store.list_grants(name))
    if as_json:
        print_json({"items": [{"user": g.user, "resource_type": g.resource_type, "resource_id": g.resource_id,
                               "permission": g.permission} for g in held]})
        return
    console.print(table("Grants", ["resource type", "resource", "permission"],
                        [[g.resource_type, g.resource_id, g.permission] for g in held]))
