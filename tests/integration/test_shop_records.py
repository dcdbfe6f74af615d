"""Installed shops on real SQL (SQLite and PostgreSQL): secrets only ever stored encrypted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from bridge.adapters.crypto import Cipher, CipherError
from bridge.adapters.oauth import TokenGrant
from bridge.adapters.shop_records import ShopRecords
from bridge.adapters.shop_values import ShopDefaults
from bridge.adapters.shops import InstalledShopDirectory, SingleStoreDirectory
from tests.integration.sync_log_rows import migrated_engine
from tests.support.apps import settings_for_test

SHOP = "installed-shop.myshopify.com"
OTHER = "other-shop.myshopify.com"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
ACCESS = "shpca_access_token_0123456789"
REFRESH = "shprt_refresh_token_0123456789"
GELATO = "gelato-merchant-key-0123456789"
DEFAULTS = ShopDefaults(dry_run=False, order_reference="id", allow_country_change=True)
SECRETS = (ACCESS, REFRESH, GELATO, "shpca_second_access", "shprt_second_refresh")


def grant(access: str = ACCESS, refresh: str = REFRESH) -> TokenGrant:
    return TokenGrant(
        access_token=access,
        scopes="read_orders,write_orders",
        expires_in=3600,
        refresh_token=refresh,
        refresh_token_expires_in=90 * 24 * 3600,
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with migrated_engine(database_url) as made:
        yield made


@pytest.fixture
def records(engine: Engine) -> ShopRecords:
    return ShopRecords(engine, Cipher([OLD_KEY]))


def raw_rows(engine: Engine) -> list[str]:
    """Every value of every shops row, as the database holds it."""
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM shops")).all()
    return [str(value) for row in rows for value in row]


def installed(records: ShopRecords, shop: str = SHOP) -> None:
    records.install(shop, grant(), NOW, DEFAULTS)
    records.save_gelato_key(shop, GELATO, NOW)


def test_the_database_never_holds_a_token_or_key_in_plain_text(
    engine: Engine, records: ShopRecords
) -> None:
    installed(records)
    records.replace_tokens(SHOP, 1, grant("shpca_second_access", "shprt_second_refresh"), NOW)

    values = raw_rows(engine)

    assert SHOP in values
    for secret in SECRETS:
        assert not any(secret in value for value in values), secret


def test_credentials_are_decrypted_only_when_asked_for(records: ShopRecords) -> None:
    installed(records)

    record = records.find(SHOP)
    found = records.credentials(SHOP)

    assert record is not None
    assert record.installed
    assert record.has_access_token
    assert record.has_gelato_key
    assert record.access_token_expires_at == NOW + timedelta(hours=1)
    assert not any(secret in repr(record) for secret in SECRETS)
    assert found is not None
    assert found[1].access_token == ACCESS
    assert found[1].gelato_api_key == GELATO
    assert records.refresh_token(SHOP) == REFRESH


def test_key_rotation_keeps_every_shop_working_and_retires_the_old_key(engine: Engine) -> None:
    old = ShopRecords(engine, Cipher([OLD_KEY]))
    installed(old, SHOP)
    installed(old, OTHER)
    before = raw_rows(engine)

    both = ShopRecords(engine, Cipher([NEW_KEY, OLD_KEY]))
    rotated = both.rotate_keys()
    new_only = ShopRecords(engine, Cipher([NEW_KEY]))

    assert rotated == 6
    assert raw_rows(engine) != before
    for shop in (SHOP, OTHER):
        found = new_only.credentials(shop)
        assert found is not None
        assert (found[1].access_token, found[1].gelato_api_key) == (ACCESS, GELATO)
        assert new_only.refresh_token(shop) == REFRESH
    with pytest.raises(CipherError):
        ShopRecords(engine, Cipher([OLD_KEY])).credentials(SHOP)


def test_a_new_first_key_reads_old_secrets_before_any_rotation(engine: Engine) -> None:
    installed(ShopRecords(engine, Cipher([OLD_KEY])))

    found = ShopRecords(engine, Cipher([NEW_KEY, OLD_KEY])).credentials(SHOP)

    assert found is not None
    assert found[1].access_token == ACCESS


def test_refreshed_tokens_are_stored_only_by_the_first_of_two_refreshes(
    records: ShopRecords,
) -> None:
    installed(records)
    seen = records.find(SHOP)
    assert seen is not None

    first = records.replace_tokens(SHOP, seen.token_generation, grant("shpca_a", "shprt_a"), NOW)
    second = records.replace_tokens(SHOP, seen.token_generation, grant("shpca_b", "shprt_b"), NOW)

    assert (first, second) == (True, False)
    assert records.refresh_token(SHOP) == "shprt_a"
    found = records.credentials(SHOP)
    assert found is not None
    assert found[1].access_token == "shpca_a"


def test_uninstall_deletes_tokens_and_key_and_keeps_the_settings(
    engine: Engine, records: ShopRecords
) -> None:
    installed(records)
    records.save_settings(
        SHOP, NOW, dry_run=True, order_reference="name", allow_country_change=False
    )

    assert records.uninstall(SHOP, NOW + timedelta(minutes=1), NOW, DEFAULTS).applied

    record = records.find(SHOP)
    assert record is not None
    assert not record.installed
    assert not record.has_access_token
    assert not record.has_refresh_token
    assert not record.has_gelato_key
    assert (record.dry_run, record.order_reference) == (True, "name")
    assert records.installed_domains() == []
    assert not records.save_settings(
        SHOP, NOW, dry_run=False, order_reference="id", allow_country_change=True
    )


def test_an_uninstall_older_than_the_latest_install_changes_nothing(records: ShopRecords) -> None:
    installed(records)

    assert not records.uninstall(SHOP, NOW - timedelta(minutes=1), NOW, DEFAULTS).applied
    record = records.find(SHOP)
    assert record is not None
    assert record.installed
    assert record.has_access_token


def test_uninstall_of_a_shop_never_installed_marks_it_so(records: ShopRecords) -> None:
    assert records.uninstall(OTHER, NOW, NOW, DEFAULTS).applied

    record = records.find(OTHER)
    assert record is not None
    assert not record.installed
    assert record.uninstalled_at == NOW


def test_reinstall_keeps_settings_and_starts_a_new_token_generation(records: ShopRecords) -> None:
    installed(records)
    records.save_settings(
        SHOP, NOW, dry_run=True, order_reference="name", allow_country_change=True
    )
    records.uninstall(SHOP, NOW, NOW, DEFAULTS)

    records.install(SHOP, grant("shpca_again", "shprt_again"), NOW + timedelta(days=1), DEFAULTS)

    record = records.find(SHOP)
    assert record is not None
    assert record.installed
    assert record.dry_run
    assert record.token_generation == 2
    assert not record.has_gelato_key
    assert records.installed_domains() == [SHOP]


def test_directory_serves_installed_shops_then_the_environment_shop(
    tmp_path: object, records: ShopRecords, database_url: str, redis_url: str
) -> None:
    installed(records)
    settings = settings_for_test(
        tmp_path,  # type: ignore[arg-type]
        database_url=database_url,
        redis_url=redis_url,
        shopify_shop="env-shop.myshopify.com",
    )
    ticks = [0.0]
    directory = InstalledShopDirectory(
        records, SingleStoreDirectory(settings), ttl=5.0, clock=lambda: ticks[0]
    )

    served = directory.get(SHOP)
    env = directory.get("env-shop.myshopify.com")
    loaded = directory.load(SHOP)

    assert served is not None
    assert served.installed
    assert served.access_token is None
    assert env is not None
    assert env.access_token == settings.shopify_access_token
    assert directory.get("unknown.myshopify.com") is None
    assert loaded is not None
    assert loaded.access_token == ACCESS
    assert loaded.gelato_api_key == GELATO
    assert loaded.refreshable

    records.uninstall(SHOP, NOW, NOW, DEFAULTS)
    assert directory.get(SHOP) == served  # cached for a few seconds
    ticks[0] = 5.1
    after = directory.get(SHOP)
    assert after is not None
    assert not after.installed
    loaded_after = directory.load(SHOP)
    assert loaded_after is not None
    assert not loaded_after.installed
