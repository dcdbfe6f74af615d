"""SQL engine set-up: SQLite tuned for several processes, PostgreSQL through psycopg 3."""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url


def make_engine(url: str) -> Engine:
    """Create the engine for the sync log, safe to use from forked processes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, parsed.database)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    # A connection must never be shared across fork(): children start with an empty pool.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    return engine


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
    # isolation_level=None hands transaction control to us, so that every transaction can
    # start with BEGIN IMMEDIATE: writers queue on the busy timeout instead of failing with
    # "database is locked" when a read lock would have to be upgraded.
    engine = sa.create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False, "isolation_level": None},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a delivery answered 200 is on disk even if the machine loses power.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
