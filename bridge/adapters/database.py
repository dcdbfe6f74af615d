"""SQL engine set-up: SQLite tuned for several processes, PostgreSQL through psycopg 3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import PoolProxiedConnection

# Every wait for the database is bounded well inside the store's 5 s webhook deadline, so a
# database that is down, unreachable or hung makes a webhook fail fast (503, the store
# retries) instead of holding it until the store gives up. Constants, not settings: they
# bound a failure, and no deployment is better served by waiting longer.
#
# Opening a PostgreSQL connection (TCP, TLS, start-up, authentication); libpq and psycopg
# take 2 s as their shortest. A URL that sets connect_timeout itself keeps its own.
CONNECT_TIMEOUT_SECONDS = 2
# Waiting for a connection of the pool when every one is checked out.
POOL_TIMEOUT_SECONDS = 2.0
# Data sent on an open PostgreSQL connection and not acknowledged by the server's host (a
# network partition, a host gone): after this the connection is dropped, not waited on for
# the kernel's quarter of an hour of retransmissions.
TCP_USER_TIMEOUT_MILLISECONDS = 3000
# PostgreSQL: how long a statement waits for a row or table lock another transaction holds (the
# recording of one order's event waits for the recording of another of the same order). Locks
# are held for milliseconds; a longer wait means a stuck transaction, and a 503 in time is better.
LOCK_TIMEOUT_MILLISECONDS = 3000
# SQLite: how long a writer waits for the write lock. Every transaction holds it for
# milliseconds, so a wait this long means something is wrong: answering 503 in time is better.
SQLITE_BUSY_TIMEOUT_SECONDS = 3.0


def make_engine(url: str) -> Engine:
    """Create the engine for the sync log, safe to use from forked processes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, parsed.database)
    else:
        engine = sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            connect_args=_postgresql_connect_args(parsed),
        )
    # A connection must never be shared across fork(): children start with an empty pool.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    return engine


@contextmanager
def driver_connection(engine: Engine) -> Iterator[PoolProxiedConnection]:
    """A pooled driver connection, for code that speaks to the driver directly.

    The driver's errors leave as SQLAlchemy's (the webhook's 503 and readiness know those);
    a connection found lost (the server went away, the connection was reset) is dropped
    from the pool rather than rolled back, which would fail again, and the error says so
    (`connection_invalidated`). The caller commits; anything else is rolled back.
    """
    dbapi = engine.dialect.loaded_dbapi
    try:
        connection = engine.raw_connection()
    except dbapi.Error as error:
        raise _wrapped(engine, error, invalidated=False) from error
    try:
        yield connection
    except dbapi.Error as error:
        lost = engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
        if lost:
            connection.invalidate(error)
        else:
            with suppress(dbapi.Error):
                connection.rollback()
        raise _wrapped(engine, error, invalidated=lost) from error
    finally:
        connection.close()


def unreachable(error: BaseException) -> bool:
    """Whether a database error says the database could not be reached or the connection was
    lost (down, unreachable, reset, every connection busy, SQLite's write lock held too long),
    as opposed to a statement the database refused."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError)


def _wrapped(engine: Engine, error: Exception, invalidated: bool) -> sa.exc.DBAPIError:
    wrapped = sa.exc.DBAPIError.instance(
        None,
        None,
        error,
        engine.dialect.loaded_dbapi.Error,
        connection_invalidated=invalidated,
        dialect=engine.dialect,
    )
    assert isinstance(wrapped, sa.exc.DBAPIError)
    return wrapped


def _postgresql_connect_args(url: URL) -> dict[str, Any]:
    if url.get_backend_name() != "postgresql":
        return {}
    # connect_args override the URL's query: only what the URL does not say is added, and the
    # lock timeout goes in front of the URL's own server options, unless they set one.
    wanted: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MILLISECONDS,
    }
    arguments = {name: value for name, value in wanted.items() if name not in url.query}
    options = url.query.get("options", "")
    if isinstance(options, tuple):  # the parameter given more than once: libpq takes the last
        options = options[-1]
    if "lock_timeout" not in options:
        arguments["options"] = f"-c lock_timeout={LOCK_TIMEOUT_MILLISECONDS} {options}".strip()
    return arguments


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
    # isolation_level=None hands transaction control to us, so that every transaction can
    # start with BEGIN IMMEDIATE: writers queue on the busy timeout instead of failing with
    # "database is locked" when a read lock would have to be upgraded.
    engine = sa.create_engine(
        url,
        connect_args={
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            "check_same_thread": False,
            "isolation_level": None,
        },
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
