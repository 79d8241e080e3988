"""The ``shipyard`` command line (Typer + rich). Holds no business logic."""

from shipyard.cli.main import app, main

__all__ = ["app", "main"]
