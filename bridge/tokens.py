"""An installed shop's store token kept fresh: refreshed before it expires and after a 401.

Offline tokens of installed shops expire after an hour (reference/shopify.md §3.5). Before each
store call the token is refreshed if it expires within REFRESH_MARGIN; a 401 from the store is
answered by one refresh and one retry. The store replaces the refresh token on every refresh, so
the new pair is stored with a conditional UPDATE (`ShopRecords.replace_tokens`): when two
workers refresh at once, one pair is kept and both go on with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bridge.adapters.oauth import OAuthClient
from bridge.adapters.shop_records import ShopRecords
from bridge.adapters.shops import ShopAccess
from bridge.adapters.store import ShopifyAdminClient, Subscription
from bridge.domain.errors import PermanentError

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
_T = TypeVar("_T")


class StoreTokens:
    """Refreshes installed shops' store tokens and stores the new ones."""

    def __init__(
        self,
        records: ShopRecords,
        oauth: OAuthClient,
        load: Callable[[str], ShopAccess | None],
        clock: Callable[[], datetime],
    ) -> None:
        self._records = records
        self._oauth = oauth
        self._load = load
        self._clock = clock

    def fresh(self, access: ShopAccess) -> ShopAccess:
        """The shop's access with a token that is good for a while yet."""
        if not access.refreshable or not self._expiring(access):
            return access
        return self.refresh(access)

    def refresh(self, access: ShopAccess) -> ShopAccess:
        """Refresh the shop's token now (unless another process just did) and return it."""
        current = self._installed(access.shop)
        if current.token_generation != access.token_generation and not self._expiring(current):
            return current
        refresh_token = self._records.refresh_token(access.shop)
        if not refresh_token:
            raise PermanentError(
                "store.no_refresh_token",
                f"{access.shop} has no refresh token: open printbridge from the store admin "
                "to authorize it again",
            )
        grant = self._oauth.refresh(access.shop, refresh_token)
        now = self._clock()
        if not self._records.replace_tokens(access.shop, current.token_generation, grant, now):
            log.info("tokens of %s were refreshed by another process first", access.shop)
        return self._installed(access.shop)

    def _installed(self, shop: str) -> ShopAccess:
        access = self._load(shop)
        if access is None or not access.installed:
            raise PermanentError("shop.uninstalled", f"printbridge is not installed on {shop}")
        return access

    def _expiring(self, access: ShopAccess) -> bool:
        expires = access.token_expires_at
        return expires is not None and expires - self._clock() <= REFRESH_MARGIN


class RefreshingStoreAdmin:
    """The store admin of one shop (StoreAdmin and WebhookAdmin), with its token kept fresh."""

    def __init__(
        self,
        access: ShopAccess,
        tokens: StoreTokens,
        connect: Callable[[str], ShopifyAdminClient],
    ) -> None:
        self._access = access
        self._tokens = tokens
        self._connect = connect

    def add_tags(self, order_gid: str, tags: list[str]) -> None:
        self._call(lambda client: client.add_tags(order_gid, tags))

    def set_json_metafield(
        self, order_gid: str, namespace: str, key: str, value: dict[str, Any]
    ) -> None:
        self._call(lambda client: client.set_json_metafield(order_gid, namespace, key, value))

    def webhook_subscriptions(self, topics: list[str]) -> list[Subscription]:
        return self._call(lambda client: client.webhook_subscriptions(topics))

    def create_webhook_subscription(self, topic: str, uri: str) -> None:
        self._call(lambda client: client.create_webhook_subscription(topic, uri))

    def _call(self, operation: Callable[[ShopifyAdminClient], _T]) -> _T:
        if not self._access.refreshable:
            # The environment's shop, or a non-expiring token: nothing to refresh with.
            return operation(self._connect(self._access.access_token or ""))
        self._access = self._tokens.fresh(self._access)
        try:
            return operation(self._connect(self._access.access_token or ""))
        except PermanentError as error:
            if error.reason != "store.unauthorized":
                raise
        # Revoked or expired early: one refresh, one retry; a second 401 stands.
        self._access = self._tokens.refresh(self._access)
        return operation(self._connect(self._access.access_token or ""))
