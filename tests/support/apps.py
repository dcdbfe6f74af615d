"""Building a printbridge app for tests, from Settings, as production does from the environment."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask

from bridge.adapters.migrate import upgrade
from bridge.app import create_app, services_of
from bridge.config import Settings
from tests.conftest import ACCESS_TOKEN, GELATO_KEY, PREVIOUS_SECRET, SECRET, SHOP, SUPPORT_TOKEN


def settings_for_test(
    instance_path: Path,
    *,
    database_url: str,
    redis_url: str,
    gelato_url: str = "http://gelato.invalid",
    store_url: str = "http://store.invalid",
    **changes: Any,
) -> Settings:
    """Settings for one test: real services, short waits, the test shop configured."""
    settings = Settings(
        instance_path=instance_path,
        shopify_api_secret=SECRET,
        shopify_api_secret_previous=PREVIOUS_SECRET,
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key",
        support_token=SUPPORT_TOKEN,
        shopify_shop=SHOP,
        shopify_access_token=ACCESS_TOKEN,
        gelato_api_key=GELATO_KEY,
        gelato_api_url=gelato_url,
        shopify_admin_url_template=store_url + "/shops/{shop}/admin/api/{version}/graphql.json",
        retry_max=5,
        retry_base_seconds=0.0,
        retry_cap_seconds=0.0,
        not_found_grace_seconds=0.0,
        http_timeout_seconds=2.0,
        # No flushing thread: a test's tally reaches Redis when it scrapes or a job ends,
        # never later into the next test's Redis.
        metrics_flush_seconds=0.0,
    )
    return replace(settings, **changes)


def migrated_app(settings: Settings) -> Flask:
    """An app on a database brought up to the newest schema."""
    app = create_app(settings)
    upgrade(services_of(app).storage.engine)
    return app
