"""Feature store: versioned feature definitions and materialization state.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S, T, BI, INT = sa.String, sa.Text, sa.BigInteger, sa.Integer


def upgrade() -> None:
    op.create_table(
        "feature_objects",
        sa.Column("kind", S(32), nullable=False),
        sa.Column("name", S(256), nullable=False),
        sa.Column("version", INT, nullable=False),
        sa.Column("spec", T, nullable=False),
        sa.Column("fingerprint", S(64), nullable=False),
        sa.Column("forced", INT, nullable=False),
        sa.Column("created_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "version", name="pk_feature_objects"),
    )
    op.create_table(
        "feature_materializations",
        sa.Column("view", S(256), nullable=False),
        sa.Column("interval_start", BI, nullable=True),
        sa.Column("interval_end", BI, nullable=False),
        sa.Column("rows", BI, nullable=False),
        sa.Column("materialized_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("view", name="pk_feature_materializations"),
    )


def downgrade() -> None:
    for name in ("feature_materializations", "feature_objects"):
        op.drop_table(name)
