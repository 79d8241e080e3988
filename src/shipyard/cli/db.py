"""``shipyard db …``"""

from __future__ import annotations

import typer

from shipyard.cli.output import console
from shipyard.config import load_config

app = typer.Typer(help="The metadata database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending schema migrations to the configured database."""
    from shipyard.store import Database
    from shipyard.store import upgrade as run_upgrade

    db = Database(load_config().database_url)
    try:
        before = db.current_revision()
        run_upgrade(db)
        after = db.current_revision()
    finally:
        db.dispose()
    where = db.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"schema is current ({after}) in {where}", markup=False, highlight=False)
    else:
        console.print(f"upgraded {before or 'empty'} -> {after} in {where}", markup=False, highlight=False)


@app.command("current")
def current() -> None:
    """Print the schema revision the configured database is at."""
    from shipyard.store import Database

    db = Database(load_config().database_url)
    console.print(db.current_revision() or "empty")
    db.dispose()
