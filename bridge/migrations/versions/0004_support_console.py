"""support console: users, handled notes, Gelato order ids of actions, search indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_users")),
        sa.UniqueConstraint("email", name=op.f("uq_support_users_email")),
    )
    op.create_table(
        "attention_notes",
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("handled_by", sa.String(length=255), nullable=False),
        sa.Column("handled_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name=op.f("fk_attention_notes_action_id_actions")
        ),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_attention_notes")),
    )
    gelato_orders = op.create_table(
        "action_gelato_orders",
        sa.Column("gelato_order_id", sa.String(length=64), nullable=False),
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name=op.f("fk_action_gelato_orders_action_id_actions")
        ),
        sa.PrimaryKeyConstraint(
            "gelato_order_id", "action_id", name=op.f("pk_action_gelato_orders")
        ),
    )
    with op.batch_alter_table("actions") as batch:
        batch.create_index("ix_actions_order_name", ["order_name"], unique=False)
        batch.create_index("ix_actions_order_id", ["order_id"], unique=False)
    with op.batch_alter_table("deliveries") as batch:
        batch.create_index("ix_deliveries_webhook_id", ["webhook_id"], unique=False)
    _backfill_gelato_orders(gelato_orders)


def _backfill_gelato_orders(table: sa.Table) -> None:
    """Index the Gelato order ids of actions recorded before this revision."""
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, detail FROM actions"))
    links: list[dict[str, str]] = []
    for action_id, detail in rows:
        for gelato_id in _ids(json.loads(detail) if isinstance(detail, str) else detail or {}):
            links.append({"gelato_order_id": gelato_id, "action_id": action_id})
    if links:
        op.bulk_insert(table, links)


def _ids(detail: dict[str, Any]) -> list[str]:
    # A frozen copy of bridge.adapters.storage.gelato_order_ids: migrations do not follow code.
    found: dict[str, None] = {}
    parts = detail.get("parts") or {}
    listed = detail.get("gelato_orders") or []
    for key, part in [*parts.items(), *((entry.get("id"), entry) for entry in listed)]:
        for value in (key, part.get("replaced_by"), part.get("draft_id")):
            if isinstance(value, str) and value:
                found[value[:64]] = None
    return list(found)


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_webhook_id")
    with op.batch_alter_table("actions") as batch:
        batch.drop_index("ix_actions_order_id")
        batch.drop_index("ix_actions_order_name")
    op.drop_table("action_gelato_orders")
    op.drop_table("attention_notes")
    op.drop_table("support_users")
