"""order state keeps the shipping-address fingerprint and the current Gelato order ids

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_states") as batch:
        batch.add_column(sa.Column("address_fingerprint", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("gelato_order_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_states") as batch:
        batch.drop_column("gelato_order_ids")
        batch.drop_column("address_fingerprint")
