"""The tables: the sync log (deliveries, actions, attempts, API calls, order state) and shops."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back as an aware UTC datetime."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("printbridge stores aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("shop", sa.String(255), nullable=False),
    sa.Column("webhook_id", sa.String(255), nullable=False),
    sa.Column("event_id", sa.String(255)),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("api_version", sa.String(16)),
    sa.Column("triggered_at", UTCDateTime),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("order_id", sa.String(32)),
    sa.Column("event_updated_at", UTCDateTime),
    sa.Column("result", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("action_id", sa.String(32)),
    sa.Column("payload", sa.Text),
    sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_duplicate_at", UTCDateTime),
    sa.UniqueConstraint("shop", "webhook_id"),
    sa.Index(None, "shop", "order_id"),
    sa.Index(None, "received_at"),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("shop", sa.String(255), nullable=False),
    sa.Column("order_id", sa.String(32), nullable=False),
    sa.Column("order_name", sa.String(64)),
    sa.Column("order_gid", sa.String(128), nullable=False),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dedupe_key", sa.String(255), nullable=False),
    sa.Column("delivery_id", sa.Integer),
    sa.Column("event_updated_at", UTCDateTime),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(32)),
    sa.Column("reason", sa.String(64)),
    sa.Column("message", sa.Text),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("first_gelato_call_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("report_state", sa.String(16), nullable=False, server_default="none"),
    sa.Column("report_reason", sa.String(64)),
    sa.Column("reported_at", UTCDateTime),
    sa.UniqueConstraint("shop", "order_id", "dedupe_key"),
    sa.Index(None, "created_at"),
    sa.Index(None, "outcome", "created_at"),
    sa.Index(None, "shop", "created_at"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action_id", sa.String(32), sa.ForeignKey("actions.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("result", sa.String(16)),
    sa.Column("reason", sa.String(64)),
    sa.Column("message", sa.Text),
    sa.Column("retry_in_seconds", sa.Float),
    sa.Index(None, "action_id"),
)

api_calls = sa.Table(
    "api_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action_id", sa.String(32), sa.ForeignKey("actions.id"), nullable=False),
    sa.Column("attempt", sa.Integer),
    sa.Column("service", sa.String(16), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("request_body", sa.Text),
    sa.Column("status", sa.Integer),
    sa.Column("response_body", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "action_id"),
)

order_states = sa.Table(
    "order_states",
    metadata,
    sa.Column("shop", sa.String(255), primary_key=True),
    sa.Column("order_id", sa.String(32), primary_key=True),
    # The store's `updated_at` of the newest event recorded for the order that was not stale:
    # one applied (an action), or whose address was learned or compared, changed or not. An
    # event older than it is recorded as stale (bridge/adapters/recording.py).
    sa.Column("applied_updated_at", UTCDateTime),
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("address_fingerprint", sa.String(32)),
    sa.Column("gelato_order_ids", sa.JSON),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Shops installed through OAuth. Columns ending in `_encrypted` hold only Fernet ciphertext
# (bridge/adapters/crypto.py); everything else is what the webhook path may read cheaply.
shops = sa.Table(
    "shops",
    metadata,
    sa.Column("domain", sa.String(255), primary_key=True),
    sa.Column("scopes", sa.String(255)),
    sa.Column("access_token_encrypted", sa.Text),
    sa.Column("access_token_expires_at", UTCDateTime),
    sa.Column("refresh_token_encrypted", sa.Text),
    sa.Column("refresh_token_expires_at", UTCDateTime),
    # Moves on every new token pair: a refresh is stored only if no other got there first.
    sa.Column("token_generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("gelato_api_key_encrypted", sa.Text),
    sa.Column("gelato_key_updated_at", UTCDateTime),
    sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("order_reference", sa.String(16), nullable=False, server_default="id"),
    sa.Column("allow_country_change", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("installed_at", UTCDateTime),
    sa.Column("uninstalled_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The support console (bridge/support): its users, handled notes, and search indexes.
support_users = sa.Table(
    "support_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(255), nullable=False),
    # An Argon2id hash in PHC form (argon2-cffi), never the password.
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_sign_in_at", UTCDateTime),
    sa.UniqueConstraint("email"),
)

# An action of the needs-attention queue that someone has dealt with: who, when, and how.
attention_notes = sa.Table(
    "attention_notes",
    metadata,
    sa.Column("action_id", sa.String(32), sa.ForeignKey("actions.id"), primary_key=True),
    sa.Column("handled_by", sa.String(255), nullable=False),
    sa.Column("handled_at", UTCDateTime, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)

# Every Gelato order id an action found or made (parts, replacements), so that support can
# find an action by a Gelato order id with an index instead of scanning the JSON detail.
action_gelato_orders = sa.Table(
    "action_gelato_orders",
    metadata,
    sa.Column("gelato_order_id", sa.String(64), primary_key=True),
    sa.Column("action_id", sa.String(32), sa.ForeignKey("actions.id"), primary_key=True),
)

# Free-text search of the console: exact matches on order names, store order ids and
# delivery (webhook) ids, each through its own index.
sa.Index("ix_actions_order_name", actions.c.order_name)
sa.Index("ix_actions_order_id", actions.c.order_id)
sa.Index("ix_deliveries_webhook_id", deliveries.c.webhook_id)
