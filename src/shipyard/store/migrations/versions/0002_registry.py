"""Model registry: registered models, versions and their files, aliases, audit log, lineage.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S, T, BI, INT = sa.String, sa.Text, sa.BigInteger, sa.Integer


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", S(256), nullable=False),
        sa.Column("description", T, nullable=True),
        sa.Column("policy", T, nullable=True),
        sa.Column("created_at", BI, nullable=False),
        sa.Column("updated_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("name", S(256), nullable=False),
        sa.Column("key", S(250), nullable=False),
        sa.Column("value", T, nullable=False),
        sa.PrimaryKeyConstraint("name", "key", name="pk_registered_model_tags"),
        sa.ForeignKeyConstraint(["name"], ["registered_models.name"],
                                name="fk_registered_model_tags_name_registered_models"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", S(256), nullable=False),
        sa.Column("version", INT, nullable=False),
        sa.Column("source", S(1024), nullable=False),
        sa.Column("run_id", S(32), nullable=True),
        sa.Column("status", S(32), nullable=False),
        sa.Column("description", T, nullable=True),
        sa.Column("flavor", S(64), nullable=True),
        sa.Column("signature", T, nullable=True),
        sa.Column("metrics", T, nullable=True),
        sa.Column("user", S(256), nullable=True),
        sa.Column("created_at", BI, nullable=False),
        sa.Column("updated_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
        sa.ForeignKeyConstraint(["name"], ["registered_models.name"],
                                name="fk_model_versions_name_registered_models"),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("name", S(256), nullable=False),
        sa.Column("version", INT, nullable=False),
        sa.Column("key", S(250), nullable=False),
        sa.Column("value", T, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "key", name="pk_model_version_tags"),
    )
    op.create_table(
        "model_version_files",
        sa.Column("name", S(256), nullable=False),
        sa.Column("version", INT, nullable=False),
        sa.Column("path", S(1024), nullable=False),
        sa.Column("digest", S(64), nullable=False),
        sa.Column("size", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "path", name="pk_model_version_files"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("name", S(256), nullable=False),
        sa.Column("alias", S(256), nullable=False),
        sa.Column("version", INT, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_model_aliases"),
        sa.ForeignKeyConstraint(["name"], ["registered_models.name"],
                                name="fk_model_aliases_name_registered_models"),
    )
    state = op.create_table(
        "registry_state",
        sa.Column("id", INT, nullable=False),
        sa.Column("generation", BI, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_state"),
    )
    op.bulk_insert(state, [{"id": 1, "generation": 0}])
    op.create_table(
        "audit_log",
        sa.Column("id", INT, nullable=False, autoincrement=True),
        sa.Column("at", BI, nullable=False),
        sa.Column("actor", S(256), nullable=True),
        sa.Column("action", S(64), nullable=False),
        sa.Column("entity_type", S(64), nullable=False),
        sa.Column("entity_id", S(512), nullable=False),
        sa.Column("before", T, nullable=True),
        sa.Column("after", T, nullable=True),
        sa.Column("reason", T, nullable=True),
        sa.Column("forced", INT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id", "id"])
    op.create_table(
        "lineage_edges",
        sa.Column("src_type", S(32), nullable=False),
        sa.Column("src_id", S(512), nullable=False),
        sa.Column("relation", S(32), nullable=False),
        sa.Column("dst_type", S(32), nullable=False),
        sa.Column("dst_id", S(512), nullable=False),
        sa.Column("created_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("src_type", "src_id", "relation", "dst_type", "dst_id",
                                name="pk_lineage_edges"),
    )
    op.create_index("ix_lineage_dst", "lineage_edges", ["dst_type", "dst_id"])


def downgrade() -> None:
    for name in ("lineage_edges", "audit_log", "registry_state", "model_aliases", "model_version_files",
                 "model_version_tags", "model_versions", "registered_model_tags", "registered_models"):
        op.drop_table(name)
