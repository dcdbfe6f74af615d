"""shopify.app.toml declares what the code handles: its topics, its scopes, its API version."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bridge.adapters.oauth import SCOPES
from bridge.config import DEFAULT_SHOPIFY_API_VERSION
from bridge.subscriptions import ORDER_TOPICS, WEBHOOK_PATH
from webhooks.routing import ROUTES, SHOP_TOPICS, TOPICS

CONFIG = Path(__file__).resolve().parents[2] / "shopify.app.toml"


def app_config() -> dict[str, Any]:
    return tomllib.loads(CONFIG.read_text())


def declared(key: str) -> list[str]:
    return [
        topic
        for subscription in app_config()["webhooks"]["subscriptions"]
        for topic in subscription.get(key, [])
    ]


def test_every_topic_printbridge_handles_is_subscribed_app_wide() -> None:
    assert sorted(declared("topics") + declared("compliance_topics")) == sorted(ROUTES)


def test_the_privacy_topics_are_declared_as_compliance_topics() -> None:
    assert sorted(declared("compliance_topics")) == [
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    ]
    assert set(SHOP_TOPICS) - set(declared("compliance_topics")) == {"app/uninstalled"}


def test_per_shop_subscriptions_cover_exactly_the_order_topics() -> None:
    assert set(ORDER_TOPICS) == set(TOPICS)


def test_every_subscription_points_at_the_webhook_route() -> None:
    uris = {s["uri"] for s in app_config()["webhooks"]["subscriptions"]}

    assert uris == {WEBHOOK_PATH}


def test_scopes_and_api_version_match_the_code() -> None:
    config = app_config()

    assert config["access_scopes"]["scopes"] == SCOPES == "read_orders,write_orders"
    assert config["webhooks"]["api_version"] == DEFAULT_SHOPIFY_API_VERSION
    assert config["embedded"] is False
    assert config["auth"]["redirect_urls"][0].endswith("/auth/callback")
    assert config["application_url"].endswith("/auth/install")
