"""``shipyard db …``"""

from __future__ import annotations

import typer

from shipyard.cli.output import console
from shipyard.config import load_config

app = typer.Typer(help="The metadata database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending schema migrations to the configured database."""
    from shipyard.store.db import Database
    from shipyard.store.migrate import head_revision
    from shipyard.store.migrate import upgrade as run_upgrade

    db = Database(load_config().database_url)
    before = db.current_revision()
    run_upgrade(db)
    console.print(f"database {db!r}: {before or 'empty'} -> {head_revision()}")
    db.dispose()


@app.command("current")
def current() -> None:
    """Print the schema revision the configured database is at."""
    from shipyard.store.db import Database

    db = Database(load_config().database_url)
    console.print(db.current_revision() or "empty")
    db.dispose()
