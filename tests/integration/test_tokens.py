"""Store tokens kept fresh on real SQL, the token endpoint answered by `responses`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from bridge.adapters.crypto import Cipher
from bridge.adapters.oauth import OAuthClient, TokenGrant
from bridge.adapters.shop_records import ShopRecords
from bridge.adapters.shop_values import ShopDefaults
from bridge.adapters.shops import InstalledShopDirectory, ShopAccess, SingleStoreDirectory
from bridge.domain.errors import PermanentError
from bridge.tokens import StoreTokens
from tests.integration.sync_log_rows import migrated_engine
from tests.support.apps import settings_for_test

SHOP = "installed-shop.myshopify.com"
URL = f"https://{SHOP}/admin/oauth/access_token"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DEFAULTS = ShopDefaults(dry_run=False, order_reference="id", allow_country_change=True)


def answer(access: str, refresh: str, expires_in: int = 3600) -> dict[str, Any]:
    return {
        "access_token": access,
        "scope": "read_orders,write_orders",
        "expires_in": expires_in,
        "refresh_token": refresh,
        "refresh_token_expires_in": 7776000,
    }


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with migrated_engine(database_url) as made:
        yield made


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def records(engine: Engine) -> ShopRecords:
    return ShopRecords(engine, Cipher([Fernet.generate_key().decode()]))


@pytest.fixture
def tokens(records: ShopRecords, tmp_path: Any, redis_url: str, database_url: str) -> StoreTokens:
    settings = settings_for_test(tmp_path, database_url=database_url, redis_url=redis_url)
    directory = InstalledShopDirectory(records, SingleStoreDirectory(settings))
    oauth = OAuthClient(requests.Session(), "https://{shop}/admin/oauth/{endpoint}", "id", "s", 2)
    return StoreTokens(records, oauth, directory.load, lambda: NOW)


def install(records: ShopRecords, expires_in: int) -> ShopAccess:
    grant = TokenGrant("shpca_first", "read_orders,write_orders", expires_in, "shprt_first", 9999)
    records.install(SHOP, grant, NOW, DEFAULTS)
    found = records.credentials(SHOP)
    assert found is not None
    record, credentials = found
    return ShopAccess(
        shop=SHOP,
        dry_run=False,
        order_reference="id",
        access_token=credentials.access_token,
        token_expires_at=record.access_token_expires_at,
        token_generation=record.token_generation,
        refreshable=True,
    )


def test_a_token_expiring_within_minutes_is_refreshed_and_the_new_pair_stored(
    records: ShopRecords, tokens: StoreTokens, http: responses.RequestsMock
) -> None:
    access = install(records, expires_in=120)
    http.post(URL, json=answer("shpca_second", "shprt_second"))

    fresh = tokens.fresh(access)

    assert fresh.access_token == "shpca_second"
    assert fresh.token_generation == access.token_generation + 1
    assert records.refresh_token(SHOP) == "shprt_second"
    assert json.loads(http.calls[0].request.body or "{}")["refresh_token"] == "shprt_first"


def test_a_token_good_for_an_hour_is_used_as_it_is(
    records: ShopRecords, tokens: StoreTokens
) -> None:
    access = install(records, expires_in=3600)

    assert tokens.fresh(access) is access


def test_a_worker_that_comes_second_uses_the_token_another_just_refreshed(
    records: ShopRecords, tokens: StoreTokens, http: responses.RequestsMock
) -> None:
    seen_by_both = install(records, expires_in=120)
    http.post(URL, json=answer("shpca_second", "shprt_second"))

    first = tokens.refresh(seen_by_both)
    second = tokens.refresh(seen_by_both)  # no second call to the store: see `http`

    assert first.access_token == second.access_token == "shpca_second"


def test_two_refreshes_at_once_keep_one_pair_and_both_use_it(
    records: ShopRecords, tokens: StoreTokens, http: responses.RequestsMock
) -> None:
    access = install(records, expires_in=120)

    def meanwhile(request: Any) -> tuple[int, dict[str, str], str]:
        # Another worker's refresh lands while this one waits for the store's answer.
        grant = TokenGrant("shpca_winner", "read_orders", 3600, "shprt_winner", 9999)
        assert records.replace_tokens(SHOP, access.token_generation, grant, NOW)
        return 200, {}, json.dumps(answer("shpca_loser", "shprt_loser"))

    http.add_callback(responses.POST, URL, callback=meanwhile)

    used = tokens.refresh(access)

    assert used.access_token == "shpca_winner"
    assert records.refresh_token(SHOP) == "shprt_winner"


def test_no_refresh_for_an_uninstalled_shop(records: ShopRecords, tokens: StoreTokens) -> None:
    access = install(records, expires_in=120)
    records.uninstall(SHOP, NOW + timedelta(seconds=1), NOW, DEFAULTS)

    with pytest.raises(PermanentError) as raised:
        tokens.fresh(access)

    assert raised.value.reason == "shop.uninstalled"
