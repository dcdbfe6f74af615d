"""Installed shops' order webhooks: checked on demand and periodically, missing ones re-created."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bridge.adapters.queue import SUBSCRIPTIONS_CHECK_ALL
from bridge.app import services_of
from bridge.commands import _subscription_checks
from bridge.periodic import PeriodicJobs, Schedule
from bridge.subscriptions import CHECK_NAME
from tests.functional.conftest import Sandbox
from tests.functional.shops.test_uninstall import uninstalled
from tests.support.install import MERCHANT_SHOP, OTHER_SHOP, PUBLIC_URL, install
from tests.support.worker import drain, run_once

TOPICS = ["ORDERS_CANCELLED", "ORDERS_CREATE", "ORDERS_UPDATED"]


def subscribed(store: Sandbox, oauth: Sandbox, shop: str = MERCHANT_SHOP) -> list[str]:
    """The shop's subscriptions, asked of the store sandbox with the shop's current token."""
    token = oauth.get(f"/_sandbox/tokens/{shop}")["access_token"]
    answer = store.http.post(
        f"{store.url}/shops/{shop}/admin/api/2026-07/graphql.json",
        json={"query": "{ webhookSubscriptions(first: 100) { nodes { id topic uri } } }"},
        headers={"X-Shopify-Access-Token": token},
        timeout=10,
    ).json()
    nodes: list[dict[str, Any]] = answer["data"]["webhookSubscriptions"]["nodes"]
    assert {node["uri"] for node in nodes} <= {f"{PUBLIC_URL}/webhooks/shopify"}
    return sorted(node["topic"] for node in nodes)


def installed(app: Flask, browser: FlaskClient, shop: str) -> None:
    install(browser, shop)
    drain(app)


def lose_subscriptions(store: Sandbox) -> None:
    """The store deletes them (8 failed deliveries in a row, reference shopify.md §1.5)."""
    store.post("/_sandbox/reset")


def test_the_command_recreates_missing_subscriptions_of_every_installed_shop(
    shop_app: Flask, browser: FlaskClient, store: Sandbox, oauth: Sandbox
) -> None:
    installed(shop_app, browser, MERCHANT_SHOP)
    installed(shop_app, shop_app.test_client(), OTHER_SHOP)
    assert subscribed(store, oauth) == TOPICS
    lose_subscriptions(store)

    first = shop_app.test_cli_runner().invoke(args=["subscriptions"])
    second = shop_app.test_cli_runner().invoke(args=["subscriptions"])

    assert first.exit_code == 0, first.output
    assert f"{MERCHANT_SHOP}: re-created ORDERS_CREATE, ORDERS_UPDATED, ORDERS_CANCELLED" in (
        first.output
    )
    assert "2 installed shop(s) checked" in first.output
    assert subscribed(store, oauth, MERCHANT_SHOP) == TOPICS
    assert subscribed(store, oauth, OTHER_SHOP) == TOPICS
    assert f"{MERCHANT_SHOP}: all 3 subscriptions in place" in second.output


def test_uninstalled_shops_are_not_checked(
    shop_app: Flask, browser: FlaskClient, store: Sandbox, oauth: Sandbox
) -> None:
    installed(shop_app, browser, MERCHANT_SHOP)
    uninstalled(shop_app.test_client())
    lose_subscriptions(store)

    result = shop_app.test_cli_runner().invoke(args=["subscriptions"])

    assert "0 installed shop(s) checked" in result.output
    assert store.get("/_sandbox/calls") == []


def test_workers_run_the_check_periodically_and_it_repairs_the_subscriptions(
    shop_app: Flask, browser: FlaskClient, store: Sandbox, oauth: Sandbox
) -> None:
    installed(shop_app, browser, MERCHANT_SHOP)
    lose_subscriptions(store)
    queue = services_of(shop_app).queue
    periodic = PeriodicJobs(
        queue, every=3600, also=[Schedule(SUBSCRIPTIONS_CHECK_ALL, CHECK_NAME, 0.5)]
    )

    periodic.start()
    deadline = time.monotonic() + 5
    while not any(job.startswith(f"{CHECK_NAME}-") for job in queue.queue.job_ids):
        assert time.monotonic() < deadline, "the periodic check was never queued"
        time.sleep(0.05)
    periodic.stop()
    run_once(shop_app)

    assert subscribed(store, oauth) == TOPICS


def test_the_worker_schedules_the_check_only_where_shops_can_be_installed(
    shop_app: Flask, make_app: Any
) -> None:
    configured = services_of(shop_app).settings
    single_store = services_of(make_app()).settings

    assert _subscription_checks(configured) == [
        Schedule(SUBSCRIPTIONS_CHECK_ALL, CHECK_NAME, configured.subscription_check_seconds)
    ]
    assert _subscription_checks(single_store) == []
