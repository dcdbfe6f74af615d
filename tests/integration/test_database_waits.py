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
    LOCK_TIMEOUT_MILLISECONDS,
    POOL_TIMEOUT_SECONDS,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    make_engine,
    unreachable,
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


def _lock_timeout(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as connection:
        shown = connection.exec_driver_sql("SHOW lock_timeout").scalar_one()
    engine.dispose()
    assert isinstance(shown, str)
    return shown


def test_a_postgresql_statement_waits_for_a_row_lock_held_elsewhere_in_seconds(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    with engine.begin() as setup:
        setup.exec_driver_sql("DROP TABLE IF EXISTS lock_wait_probe")
        setup.exec_driver_sql("CREATE TABLE lock_wait_probe (x INTEGER PRIMARY KEY)")
        setup.exec_driver_sql("INSERT INTO lock_wait_probe VALUES (1)")
    try:
        with engine.begin() as holder:
            holder.exec_driver_sql("SELECT x FROM lock_wait_probe WHERE x = 1 FOR UPDATE")
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError) as raised, engine.begin() as waiter:
                waiter.exec_driver_sql("UPDATE lock_wait_probe SET x = 2 WHERE x = 1")
            took = time.monotonic() - started
    finally:
        with engine.begin() as cleanup:
            cleanup.exec_driver_sql("DROP TABLE lock_wait_probe")
        engine.dispose()

    bound = LOCK_TIMEOUT_MILLISECONDS / 1000
    assert bound - 0.5 <= took < bound + SLACK
    assert unreachable(raised.value)  # so the webhook answers 503 and a job is retried


def _with_option(url: str, option: str) -> str:
    """The URL with one more server option (`-c name=value`) after the ones it has."""
    parsed = sa.make_url(url)
    options = f"{parsed.query.get('options', '')} -c {option}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def test_a_postgresql_url_keeps_its_own_server_options_beside_the_lock_timeout(
    postgres_url: str,
) -> None:
    url = _with_option(postgres_url, "statement_timeout=7000")
    engine = make_engine(url)
    with engine.connect() as connection:
        statement_timeout = connection.exec_driver_sql("SHOW statement_timeout").scalar_one()
    engine.dispose()

    assert statement_timeout == "7s"
    assert _lock_timeout(url) == f"{LOCK_TIMEOUT_MILLISECONDS // 1000}s"


def test_a_lock_timeout_in_the_url_is_kept(postgres_url: str) -> None:
    assert _lock_timeout(_with_option(postgres_url, "lock_timeout=9000")) == "9s"
