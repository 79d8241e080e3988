"""Monitoring: monitors, their window results as time series, window profiles, batch labels,
and the time spans of inference-log segments already read.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S, T, BI, INT = sa.String, sa.Text, sa.BigInteger, sa.Integer


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", S(256), nullable=False),
        sa.Column("model", S(512), nullable=False),
        sa.Column("reference", S(1024), nullable=True),
        sa.Column("window_s", INT, nullable=False),
        sa.Column("task", S(32), nullable=True),
        sa.Column("label_column", S(256), nullable=True),
        sa.Column("options", T, nullable=True),
        sa.Column("cursor", BI, nullable=True),
        sa.Column("label_watermark", BI, nullable=True),
        sa.Column("created_at", BI, nullable=False),
        sa.Column("updated_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_monitors"),
    )
    op.create_table(
        "monitor_points",
        sa.Column("monitor", S(256), nullable=False),
        sa.Column("series", S(128), nullable=False),
        sa.Column("labels", S(512), nullable=False),
        sa.Column("window_start", BI, nullable=False),
        sa.Column("window_end", BI, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("monitor", "series", "labels", "window_start", name="pk_monitor_points"),
    )
    op.create_index("ix_monitor_points_monitor_end", "monitor_points", ["monitor", "window_end"])
    op.create_index("ix_monitor_points_series_end", "monitor_points", ["series", "window_end"])
    op.create_table(
        "monitor_windows",
        sa.Column("monitor", S(256), nullable=False),
        sa.Column("window_start", BI, nullable=False),
        sa.Column("window_end", BI, nullable=False),
        sa.Column("rows", BI, nullable=False),
        sa.Column("version", S(64), nullable=True),
        sa.Column("status", S(32), nullable=False),
        sa.Column("detail", T, nullable=True),
        sa.Column("profile", sa.LargeBinary, nullable=True),
        sa.Column("prediction_profile", sa.LargeBinary, nullable=True),
        sa.Column("computed_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("monitor", "window_start", name="pk_monitor_windows"),
    )
    op.create_table(
        "monitor_labels",
        sa.Column("model", S(256), nullable=False),
        sa.Column("request_id", S(128), nullable=False),
        sa.Column("row", INT, nullable=False),
        sa.Column("label", T, nullable=True),
        sa.Column("arrived_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("model", "request_id", "row", name="pk_monitor_labels"),
    )
    op.create_index("ix_monitor_labels_arrived", "monitor_labels", ["arrived_at"])
    op.create_table(
        "monitor_segments",
        sa.Column("digest", S(64), nullable=False),
        sa.Column("first_ms", BI, nullable=False),
        sa.Column("last_ms", BI, nullable=False),
        sa.Column("rows", BI, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_monitor_segments"),
    )


def downgrade() -> None:
    op.drop_index("ix_monitor_labels_arrived", "monitor_labels")
    op.drop_index("ix_monitor_points_series_end", "monitor_points")
    op.drop_index("ix_monitor_points_monitor_end", "monitor_points")
    for name in ("monitor_segments", "monitor_labels", "monitor_windows", "monitor_points", "monitors"):
        op.drop_table(name)
