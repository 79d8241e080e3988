"""What every ``shipyard`` command pays before it runs: no database or data library is
imported until a command needs one (``shipyard --help`` took 1.05 s when the CLI loaded
SQLAlchemy and pandas up front, 0.24 s without)."""

from __future__ import annotations

import subprocess
import sys

LOADED_BY_COMMANDS_ONLY = ("alembic", "duckdb", "fastapi", "pandas", "psycopg", "pyarrow", "sklearn", "sqlalchemy",
                           "uvicorn")


def test_loading_the_cli_imports_no_database_or_data_library() -> None:
    probe = (f"import sys, shipyard.cli.main; "
             f"print(' '.join(m for m in {LOADED_BY_COMMANDS_ONLY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
