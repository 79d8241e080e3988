"""``shipyard tokens create|list|revoke``: API tokens of the server's users.

A token is printed once, at creation, and stored only as a hash. Clients send it as
``SHIPYARD_TOKEN`` (Shipyard) or ``MLFLOW_TRACKING_TOKEN`` (MLflow). With ``SHIPYARD_URL``
set they work through that server's REST API: a user manages their own tokens, an admin
anyone's.
"""

from __future__ import annotations

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.cli.users import management_store

app = typer.Typer(help="API tokens of the server's users (shown once, stored as a hash).", no_args_is_help=True)


@app.command("create")
def create(user: str = typer.Argument(..., help="The user the token acts as."),
           name: str = typer.Option("", "--name", help="What the token is for (at most 128 characters)."),
           expires: str | None = typer.Option(None, "--expires", help="Lifetime such as 90d or 12h (default: "
                                                                      "until revoked).")) -> None:
    """Create a token and print it: it is not shown again."""
    from shipyard.timeutil import parse_duration

    lifetime = None if expires is None else parse_duration(expires, "expires") * 1000
    with management_store() as store:
        record, secret = store.create_token(user, name, lifetime)
    # The secret alone on stdout, so `export SHIPYARD_TOKEN=$(shipyard tokens create ana)` works.
    typer.echo(secret)
    typer.echo(f"token {record.id} for {record.user}: store it now, it is not shown again", err=True)


@app.command("list")
def list_(user: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
          as_json: bool = JSON_OPTION) -> None:
    """List tokens (never their secrets)."""
    with management_store() as store:
        tokens = store.list_tokens(user)
    if as_json:
        print_json({"items": [{"id": t.id, "user": t.user, "name": t.name, "created_at": t.created_at,
                               "revoked_at": t.revoked_at, "expires_at": t.expires_at} for t in tokens]})
        return
    console.print(table("Tokens", ["id", "user", "name", "created", "expires", "revoked"], [
        [t.id, t.user, t.name or "-", fmt_time(t.created_at), fmt_time(t.expires_at) if t.expires_at else "never",
         fmt_time(t.revoked_at) if t.revoked else "-"]
        for t in tokens]))


@app.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="The token's id (from `shipyard tokens list`).")) -> None:
    """Revoke a token: it is refused from the next request on."""
    with management_store() as store:
        record = store.revoke_token(token_id)
    console.print(f"revoked token {record.id} of {record.user}", markup=False, highlight=False)
