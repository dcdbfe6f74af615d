"""Which shops printbridge serves, and with which credentials and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bridge.config import Settings


@dataclass(frozen=True)
class ShopAccess:
    """What it takes to act for one shop: its store token, its Gelato key, its settings."""

    shop: str
    access_token: str | None = field(repr=False)
    gelato_api_key: str | None = field(repr=False)
    dry_run: bool
    order_reference: str


class ShopDirectory(Protocol):
    """Looks up the shops printbridge serves."""

    def get(self, shop: str) -> ShopAccess | None:
        """The shop's access, or None for a shop printbridge does not serve."""
        ...


class SingleStoreDirectory:
    """The one shop configured through the environment (a custom app)."""

    def __init__(self, settings: Settings) -> None:
        self._access = (
            ShopAccess(
                shop=settings.shopify_shop,
                access_token=settings.shopify_access_token,
                gelato_api_key=settings.gelato_api_key,
                dry_run=settings.dry_run,
                order_reference=settings.gelato_order_reference,
            )
            if settings.shopify_shop
            else None
        )

    def get(self, shop: str) -> ShopAccess | None:
        if self._access is not None and self._access.shop == shop:
            return self._access
        return None
