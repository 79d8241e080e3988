"""Serving deployments: each running ``shipyard serve``, what it serves and its heartbeat.

Revision ID: 0013
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

S, T, BI, INT = sa.String, sa.Text, sa.BigInteger, sa.Integer


def upgrade() -> None:
    op.create_table(
        "serving_deployments",
        sa.Column("id", S(64), nullable=False),
        sa.Column("url", S(1024), nullable=False),
        sa.Column("host", S(256), nullable=False),
        sa.Column("pid", INT, nullable=False),
        sa.Column("started_at", BI, nullable=False),
        sa.Column("heartbeat_at", BI, nullable=False),
        sa.Column("interval_ms", INT, nullable=False),
        sa.Column("models", T, nullable=False),
        sa.Column("stats", T, nullable=True),
        sa.Column("previous_stats", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_serving_deployments"),
    )
    op.create_index("ix_serving_deployments_heartbeat", "serving_deployments", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_table("serving_deployments")
