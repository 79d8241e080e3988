"""Alerts: rules over monitored series, and the history of alerts they raised and resolved.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S, T, BI, INT, D = sa.String, sa.Text, sa.BigInteger, sa.Integer, sa.Double


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("name", S(128), nullable=False),
        sa.Column("monitor", S(256), nullable=False),
        sa.Column("series", S(128), nullable=False),
        sa.Column("labels", S(512), nullable=False),
        sa.Column("op", S(2), nullable=False),
        sa.Column("threshold", D, nullable=False),
        sa.Column("for_windows", INT, nullable=False),
        sa.Column("severity", S(16), nullable=False),
        sa.Column("notify", T, nullable=False),
        sa.Column("repeat_interval_ms", BI, nullable=True),
        sa.Column("enabled", INT, nullable=False),
        sa.Column("description", T, nullable=True),
        sa.Column("created_at", BI, nullable=False),
        sa.Column("updated_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_alert_rules"),
    )
    op.create_table(
        "alerts",
        sa.Column("fingerprint", S(64), nullable=False),
        sa.Column("rule", S(128), nullable=False),
        sa.Column("monitor", S(256), nullable=False),
        sa.Column("labels", S(512), nullable=False),
        sa.Column("state", S(16), nullable=False),
        sa.Column("severity", S(16), nullable=False),
        sa.Column("started_at", BI, nullable=False),
        sa.Column("resolved_at", BI, nullable=True),
        sa.Column("last_value", D, nullable=True),
        sa.Column("last_window_end", BI, nullable=True),
        sa.Column("last_notified_at", BI, nullable=True),
        sa.Column("count", INT, nullable=False),
        sa.Column("updated_at", BI, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_alerts"),
    )
    op.create_index("ix_alerts_rule", "alerts", ["rule"])
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_table(
        "alert_events",
        sa.Column("id", INT, autoincrement=True, nullable=False),
        sa.Column("at", BI, nullable=False),
        sa.Column("kind", S(32), nullable=False),
        sa.Column("rule", S(128), nullable=False),
        sa.Column("fingerprint", S(64), nullable=True),
        sa.Column("monitor", S(256), nullable=True),
        sa.Column("labels", S(512), nullable=True),
        sa.Column("severity", S(16), nullable=True),
        sa.Column("value", D, nullable=True),
        sa.Column("window_end", BI, nullable=True),
        sa.Column("notifier", S(128), nullable=True),
        sa.Column("detail", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_rule", "alert_events", ["rule", "id"])
    op.create_index("ix_alert_events_fingerprint", "alert_events", ["fingerprint", "id"])


def downgrade() -> None:
    for name in ("alert_events", "alerts", "alert_rules"):
        op.drop_table(name)
