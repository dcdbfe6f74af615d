"""Which shops printbridge serves, and with which credentials and settings.

Shops installed through OAuth live in the database (`shop_records`); the single shop of the
environment (a custom app: SHOPIFY_SHOP, SHOPIFY_ACCESS_TOKEN, GELATO_API_KEY) is served when the
database has no row for it. The webhook path asks `get` on every delivery, so `get` reads no
secret and keeps each answer for a few seconds; the worker and the settings page ask `load`,
which reads the row now and decrypts the credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bridge.adapters.shop_records import Credentials, ShopRecord, ShopRecords
from bridge.config import Settings

CACHE_SECONDS = 5.0
CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class ShopAccess:
    """What it takes to act for one shop: its settings and, when loaded, its credentials."""

    shop: str
    dry_run: bool
    order_reference: str
    allow_country_change: bool = True
    installed: bool = True
    access_token: str | None = field(default=None, repr=False)
    gelato_api_key: str | None = field(default=None, repr=False)
    token_expires_at: datetime | None = None
    token_generation: int = 0
    refreshable: bool = False


class ShopDirectory(Protocol):
    """Looks up the shops printbridge serves."""

    def get(self, shop: str) -> ShopAccess | None:
        """The shop's settings (credentials may be absent), or None for a shop not served."""
        ...

    def load(self, shop: str) -> ShopAccess | None:
        """The shop read now, with its credentials, or None for a shop not served."""
        ...

    def forget(self, shop: str) -> None:
        """Drop what this process remembers of the shop (after a change to it)."""
        ...


class SingleStoreDirectory:
    """The one shop configured through the environment (a custom app)."""

    def __init__(self, settings: Settings) -> None:
        self._access = (
            ShopAccess(
                shop=settings.shopify_shop,
                dry_run=settings.dry_run,
                order_reference=settings.gelato_order_reference,
                allow_country_change=settings.allow_country_change,
                access_token=settings.shopify_access_token,
                gelato_api_key=settings.gelato_api_key,
            )
            if settings.shopify_shop
            else None
        )

    def get(self, shop: str) -> ShopAccess | None:
        if self._access is not None and self._access.shop == shop:
            return self._access
        return None

    def load(self, shop: str) -> ShopAccess | None:
        return self.get(shop)

    def forget(self, shop: str) -> None:
        """Nothing is cached: the environment does not change."""


class InstalledShopDirectory:
    """Installed shops from the database, then the environment's shop."""

    def __init__(
        self,
        records: ShopRecords,
        fallback: SingleStoreDirectory,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._records = records
        self._fallback = fallback
        self._ttl = ttl
        self._clock = clock
        # Per process. A change made here is forgotten at once (`forget`); one made by another
        # process is seen within `ttl` seconds, and the worker always reads the row (`load`).
        self._cache: dict[str, tuple[float, ShopAccess | None]] = {}

    def get(self, shop: str) -> ShopAccess | None:
        now = self._clock()
        cached = self._cache.get(shop)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = self._records.find(shop)
        access = self._fallback.get(shop) if record is None else _access(record, None)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[shop] = (now + self._ttl, access)
        return access

    def load(self, shop: str) -> ShopAccess | None:
        found = self._records.credentials(shop)
        if found is None:
            return self._fallback.load(shop)
        return _access(*found)

    def forget(self, shop: str) -> None:
        self._cache.pop(shop, None)


def _access(record: ShopRecord, credentials: Credentials | None) -> ShopAccess:
    return ShopAccess(
        shop=record.domain,
        dry_run=record.dry_run,
        order_reference=record.order_reference,
        allow_country_change=record.allow_country_change,
        installed=record.installed,
        access_token=credentials.access_token if credentials else None,
        gelato_api_key=credentials.gelato_api_key if credentials else None,
        token_expires_at=record.access_token_expires_at,
        token_generation=record.token_generation,
        refreshable=record.has_refresh_token,
    )
