"""Functional fixtures: an app on real SQL and Redis, talking to both sandboxes over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from bridge.sandbox import GelatoSandbox, StoreSandbox, serve_in_thread
from tests.conftest import ACCESS_TOKEN, GELATO_KEY, SHOP
from tests.faults.db_proxy import DatabaseProxy, database_proxy
from tests.support.apps import migrated_app, settings_for_test


class Sandbox:
    """A running sandbox and a session for its control endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(self.url + path, json=body or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = self.http.get(self.url + path, timeout=10)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def gelato_server() -> Iterator[Sandbox]:
    server = serve_in_thread(GelatoSandbox(api_key=GELATO_KEY))
    yield Sandbox(server.url)
    server.stop()


@pytest.fixture(scope="session")
def store_server() -> Iterator[Sandbox]:
    server = serve_in_thread(StoreSandbox(tokens={SHOP: ACCESS_TOKEN}))
    yield Sandbox(server.url)
    server.stop()


@pytest.fixture
def gelato(gelato_server: Sandbox) -> Sandbox:
    """The Gelato sandbox, emptied for this test."""
    gelato_server.post("/_sandbox/reset")
    return gelato_server


@pytest.fixture
def store(store_server: Sandbox) -> Sandbox:
    """The store-admin sandbox, emptied for this test."""
    store_server.post("/_sandbox/reset")
    return store_server


@pytest.fixture
def proxy() -> Iterator[DatabaseProxy]:
    """A TCP proxy in front of the test PostgreSQL, which a test can cut and restore."""
    with database_proxy() as running:
        yield running


@pytest.fixture
def make_app(
    tmp_path: Path, sqlite_url: str, redis_url: str, gelato: Sandbox, store: Sandbox
) -> Iterator[Any]:
    """Build an app (settings changes as keywords) on SQLite, real Redis and the sandboxes."""
    built: list[Flask] = []

    def build(**changes: Any) -> Flask:
        settings = settings_for_test(
            tmp_path,
            database_url=changes.pop("database_url", sqlite_url),
            redis_url=changes.pop("redis_url", redis_url),
            gelato_url=gelato.url,
            store_url=store.url,
            **changes,
        )
        app = migrated_app(settings)
        built.append(app)
        return app

    yield build
    for app in built:
        services = app.extensions["printbridge"]
        services.storage.engine.dispose()
        services.redis.close()
        services.http.close()


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def client_for() -> Any:
    """A test client for an app built in the test."""

    def build(app: Flask) -> FlaskClient:
        return app.test_client()

    return build
