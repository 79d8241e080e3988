"""Automation: versioned retraining policies, the runs a controller drives, and its leases.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

S, T, BI, INT = sa.String, sa.Text, sa.BigInteger, sa.Integer


def upgrade() -> None:
    op.create_table(
        "automation_policies",
        sa.Column("name", S(256), nullable=False),
        sa.Column("version", INT, nullable=False),
        sa.Column("spec", T, nullable=False),
        sa.Column("actor", S(256), nullable=True),
        sa.Column("created_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_automation_policies"),
    )
    op.create_table(
        "automation_runs",
        sa.Column("id", S(32), nullable=False),
        sa.Column("policy", S(256), nullable=False),
        sa.Column("policy_version", INT, nullable=False),
        sa.Column("state", S(32), nullable=False),
        sa.Column("resume_state", S(32), nullable=True),
        sa.Column("evidence", T, nullable=False),
        sa.Column("reason", T, nullable=True),
        sa.Column("started_at", BI, nullable=False),
        sa.Column("updated_at", BI, nullable=False),
        sa.Column("ended_at", BI, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_automation_runs"),
    )
    op.create_index("ix_automation_runs_policy", "automation_runs", ["policy", "started_at"])
    op.create_index("ix_automation_runs_state", "automation_runs", ["state"])
    op.create_table(
        "automation_leases",
        sa.Column("policy", S(256), nullable=False),
        sa.Column("holder", S(256), nullable=False),
        sa.Column("acquired_at", BI, nullable=False),
        sa.Column("expires_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("policy", name="pk_automation_leases"),
    )


def downgrade() -> None:
    for name in ("automation_leases", "automation_runs", "automation_policies"):
        op.drop_table(name)
