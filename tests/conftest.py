"""Fixtures shared by every kind of test: real Redis, real SQL, the two sandboxes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bridge.adapters.tables import metadata

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHOP = "bridge-test.myshopify.com"
SECRET = "test-webhook-secret"
PREVIOUS_SECRET = "old-webhook-secret"
ACCESS_TOKEN = "shpat_test_token_0123456789"
GELATO_KEY = "gelato-test-key-0123456789"
SUPPORT_TOKEN = "support-token-0123456789"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database, emptied before and after the test."""
    connection = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        connection.flushdb()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {TEST_REDIS_URL}; start it (see .ci/run)")
    yield TEST_REDIS_URL
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
