"""Every wait for the database is bounded inside the store's 5 s webhook deadline."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge.adapters.database import (
    CONNECT_TIMEOUT_SECONDS,
    POOL_TIMEOUT_SECONDS,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    make_engine,
)

# Room for a loaded machine on top of each bound, still under the store's deadline.
SLACK = 2.0


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody ever answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_a_postgresql_server_that_never_answers_fails_the_connect_in_seconds(
    silent_server: int,
) -> None:
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/test")
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()
    took = time.monotonic() - started
    engine.dispose()

    assert CONNECT_TIMEOUT_SECONDS - 0.5 <= took < CONNECT_TIMEOUT_SECONDS + SLACK


def test_a_connect_timeout_in_the_url_is_kept(silent_server: int) -> None:
    engine = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/test?connect_timeout=3"
    )
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()
    took = time.monotonic() - started
    engine.dispose()

    assert 2.5 <= took < 3 + SLACK


def test_a_refused_postgresql_connection_fails_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/test")
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()
    engine.dispose()

    assert time.monotonic() - started < SLACK


def test_a_checkout_from_an_exhausted_pool_gives_up_in_seconds(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    pool_size = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    with ExitStack() as held:
        for _ in range(pool_size):
            held.enter_context(engine.connect())
        started = time.monotonic()
        with pytest.raises(sa.exc.TimeoutError):
            engine.connect()
        took = time.monotonic() - started
    engine.dispose()

    assert POOL_TIMEOUT_SECONDS - 0.5 <= took < POOL_TIMEOUT_SECONDS + SLACK


def test_a_sqlite_writer_gives_up_on_a_held_write_lock_in_seconds(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'locked.sqlite3'}")
    with engine.begin() as holder:
        holder.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with engine.begin() as holder:
        holder.exec_driver_sql("INSERT INTO t VALUES (1)")
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="locked"), engine.begin() as writer:
            writer.exec_driver_sql("INSERT INTO t VALUES (2)")
        took = time.monotonic() - started
    engine.dispose()

    assert SQLITE_BUSY_TIMEOUT_SECONDS - 0.5 <= took < SQLITE_BUSY_TIMEOUT_SECONDS + SLACK
