"""Fixtures for installed shops: the OAuth stand-in over HTTP, an app that installs shops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from bridge.sandbox import serve_in_thread
from bridge.sandbox.oauth import OAuthSandbox
from tests.conftest import SECRET
from tests.functional.conftest import Sandbox
from tests.support.install import API_KEY, MERCHANT_GELATO_KEY, PUBLIC_URL

ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def oauth_server(store_server: Sandbox) -> Iterator[Sandbox]:
    """The shops' OAuth endpoints; every token it issues is the one the store sandbox accepts."""

    def tell_the_store(shop: str, token: str) -> None:
        store_server.post("/_sandbox/shops", {"shop": shop, "token": token})

    server = serve_in_thread(OAuthSandbox(API_KEY, SECRET, on_token=tell_the_store))
    yield Sandbox(server.url)
    server.stop()


@pytest.fixture
def oauth(oauth_server: Sandbox) -> Sandbox:
    """The OAuth stand-in, emptied for this test."""
    oauth_server.post("/_sandbox/reset")
    return oauth_server


@pytest.fixture
def make_shop_app(make_app: Any, oauth: Sandbox, gelato: Sandbox) -> Any:
    """An app that can install shops (settings changes as keywords)."""
    gelato.post("/_sandbox/keys", {"key": MERCHANT_GELATO_KEY})

    def build(**changes: Any) -> Flask:
        settings: dict[str, Any] = {
            "shopify_api_key": API_KEY,
            "public_url": PUBLIC_URL,
            "encryption_keys": (ENCRYPTION_KEY,),
            "shopify_oauth_url_template": oauth.url + "/shops/{shop}/admin/oauth/{endpoint}",
        }
        settings.update(changes)
        app: Flask = make_app(**settings)
        return app

    return build


@pytest.fixture
def shop_app(make_shop_app: Any) -> Flask:
    app: Flask = make_shop_app()
    return app


@pytest.fixture
def browser(shop_app: Flask) -> FlaskClient:
    """A merchant's browser: keeps printbridge's cookies between requests."""
    return shop_app.test_client()


def every_value(app: Flask) -> list[tuple[str, str, str]]:
    """(table, column, value as text) of every non-null value of every table, read raw."""
    engine = services_of(app).storage.engine
    found = []
    with engine.connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            result = connection.execute(sa.text(f'SELECT * FROM "{table}"'))  # noqa: S608
            columns = list(result.keys())
            for row in result:
                found += [
                    (table, column, str(value))
                    for column, value in zip(columns, row, strict=True)
                    if value is not None
                ]
    return found


def traces_of(app: Flask, *needles: str) -> list[tuple[str, str, str]]:
    """Every (table, column, value) holding any of the needles (case-insensitive)."""
    lowered = [needle.lower() for needle in needles]
    return [hit for hit in every_value(app) if any(n in hit[2].lower() for n in lowered)]


def sandbox_requests(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The request log of a sandbox."""
    found: list[dict[str, Any]] = sandbox.get("/_sandbox/requests")
    return found
