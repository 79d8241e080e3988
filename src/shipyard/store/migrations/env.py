"""Alembic environment: runs on the connection handed over by ``shipyard.store._migrate``."""

from alembic import context

from shipyard.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
context.run_migrations()
