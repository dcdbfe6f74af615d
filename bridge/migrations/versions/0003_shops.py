"""shops installed through OAuth: encrypted tokens and Gelato key, settings, install times

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=True),
        sa.Column("access_token_encrypted", sa.Text(), nullable=True),
        sa.Column("access_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("refresh_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gelato_api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("gelato_key_updated_at", sa.DateTime(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("order_reference", sa.String(length=16), server_default="id", nullable=False),
        sa.Column(
            "allow_country_change", sa.Boolean(), server_default=sa.true(), nullable=False
        ),
        sa.Column("installed_at", sa.DateTime(), nullable=True),
        sa.Column("uninstalled_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_shops")),
    )


def downgrade() -> None:
    op.drop_table("shops")
