"""Garbage collection: when a run was deleted, and digest indexes to count blob references.

Revision ID: 0007
Revises: 0006

Runs already deleted get the time of this upgrade as their deletion time, so their
retention counts from now rather than never running out.
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("deleted_at", sa.BigInteger, nullable=True))
    op.execute(
        sa.text("UPDATE runs SET deleted_at = :now WHERE lifecycle_stage = 'deleted'").bindparams(
            now=time.time_ns() // 1_000_000
        )
    )
    op.create_index("ix_runs_deleted_at", "runs", ["deleted_at"])
    op.create_index("ix_artifacts_digest", "artifacts", ["digest"])
    op.create_index("ix_model_version_files_digest", "model_version_files", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_model_version_files_digest", "model_version_files")
    op.drop_index("ix_artifacts_digest", "artifacts")
    op.drop_index("ix_runs_deleted_at", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("deleted_at")
