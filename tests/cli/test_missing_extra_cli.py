"""A missing optional dependency, as the ``shipyard`` command reports it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_missing_postgres_driver_names_the_postgres_extra(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['psycopg'] = None; sys.argv = ['shipyard', 'experiments', 'list']; "
            "from shipyard.cli import main; main()")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_DB": "postgresql://127.0.0.1:5432/test"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done.stderr
    assert "'psycopg' is not installed; run: pip install 'shipyard[postgres]'" in done.stderr
