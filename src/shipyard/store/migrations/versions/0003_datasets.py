"""Datasets: names, immutable content-addressed versions and their file manifests.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S, T, BI, INT = sa.String, sa.Text, sa.BigInteger, sa.Integer


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("name", S(256), nullable=False),
        sa.Column("description", T, nullable=True),
        sa.Column("created_at", BI, nullable=False),
        sa.Column("updated_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_datasets"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("name", S(256), nullable=False),
        sa.Column("version", INT, nullable=False),
        sa.Column("digest", S(64), nullable=False),
        sa.Column("format", S(16), nullable=False),
        sa.Column("num_files", INT, nullable=False),
        sa.Column("num_bytes", BI, nullable=False),
        sa.Column("num_rows", BI, nullable=True),
        sa.Column("schema", T, nullable=True),
        sa.Column("profile", T, nullable=True),
        sa.Column("source", T, nullable=True),
        sa.Column("description", T, nullable=True),
        sa.Column("tags", T, nullable=True),
        sa.Column("run_id", S(32), nullable=True),
        sa.Column("user", S(256), nullable=True),
        sa.Column("created_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_dataset_versions"),
        sa.ForeignKeyConstraint(["name"], ["datasets.name"], name="fk_dataset_versions_name_datasets"),
    )
    op.create_index("ux_dataset_versions_name_digest", "dataset_versions", ["name", "digest"], unique=True)
    op.create_index("ix_dataset_versions_digest", "dataset_versions", ["digest"])
    op.create_table(
        "dataset_manifests",
        sa.Column("digest", S(64), nullable=False),
        sa.Column("num_files", INT, nullable=False),
        sa.Column("manifest", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_dataset_manifests"),
    )


def downgrade() -> None:
    for name in ("dataset_manifests", "dataset_versions", "datasets"):
        op.drop_table(name)
