"""Alembic environment: runs against the connection or URL printbridge hands it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from bridge.adapters.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as new_connection:
        _migrate(new_connection)
    engine.dispose()


def _migrate(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
