"""Single sign-on identities: the provider's issuer and subject on the user they sign in as.

Revision ID: 0010
Revises: 0009

A provider account is matched by its subject (stable, never reassigned), not by a user
name it claims. Both columns are NULL for users who never signed in through the
provider; the unique index lets one provider account be linked to one user at most
(NULLs are distinct, so unlinked users do not collide). A unique index rather than a
table constraint: SQLite adds it without rebuilding ``users``, which tokens and grants
reference.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("oidc_issuer", sa.String(512), nullable=True))
    op.add_column("users", sa.Column("oidc_subject", sa.String(255), nullable=True))
    op.create_index("ux_users_oidc_identity", "users", ["oidc_issuer", "oidc_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_users_oidc_identity", "users")
    op.drop_column("users", "oidc_subject")
    op.drop_column("users", "oidc_issuer")
