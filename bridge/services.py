"""The composition root: builds every outside-facing service, for web and worker alike."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import requests

from bridge.adapters.crypto import Cipher
from bridge.adapters.database import make_engine
from bridge.adapters.embedded_redis import ensure_embedded_redis
from bridge.adapters.gelato import GelatoApi, GelatoClient
from bridge.adapters.http import Recorder, RecordingTransport
from bridge.adapters.metrics import Metrics
from bridge.adapters.oauth import OAuthClient
from bridge.adapters.privacy import PrivacyRecords
from bridge.adapters.queue import JobQueue
from bridge.adapters.shop_records import ShopRecords
from bridge.adapters.shop_values import ShopDefaults
from bridge.adapters.shops import (
    InstalledShopDirectory,
    ShopAccess,
    ShopDirectory,
    SingleStoreDirectory,
)
from bridge.adapters.storage import ApiCall, Storage
from bridge.adapters.store import ShopifyAdminClient
from bridge.adapters.synclog import SyncLog
from bridge.config import Settings
from bridge.metrics import count_api_call
from bridge.tokens import RefreshingStoreAdmin, StoreTokens

USER_AGENT = "printbridge/0.1 (+https://github.com/printbridge)"


def utc_now() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything the web app and the jobs use to reach the outside world."""

    settings: Settings
    storage: Storage
    synclog: SyncLog
    redis: redis.Redis
    queue: JobQueue
    shops: ShopDirectory
    shop_records: ShopRecords
    privacy: PrivacyRecords
    oauth: OAuthClient
    http: requests.Session
    metrics: Metrics
    clock: Callable[[], datetime] = utc_now
    random: Callable[[], float] = random.random

    @property
    def shop_defaults(self) -> ShopDefaults:
        """The settings a newly installed shop starts with: the environment's."""
        return ShopDefaults(
            dry_run=self.settings.dry_run,
            order_reference=self.settings.gelato_order_reference,
            allow_country_change=self.settings.allow_country_change,
        )

    def gelato(self, access: ShopAccess, recorder: Recorder) -> GelatoApi:
        """A Gelato client for one shop, recording each call."""
        key = access.gelato_api_key or ""
        return GelatoClient(
            self._transport("gelato", recorder, key), self.settings.gelato_api_url, key
        )

    def store(self, access: ShopAccess, recorder: Recorder) -> RefreshingStoreAdmin:
        """A store-admin client for one shop, recording each call, its token kept fresh."""
        url = self.settings.shopify_admin_url_template.format(
            shop=access.shop, version=self.settings.shopify_api_version
        )

        def connect(token: str) -> ShopifyAdminClient:
            return ShopifyAdminClient(self._transport("store", recorder, token), url, token)

        tokens = StoreTokens(self.shop_records, self.oauth, self.shops.load, self.clock)
        return RefreshingStoreAdmin(access, tokens, connect)

    def _transport(self, service: str, recorder: Recorder, secret: str) -> RecordingTransport:
        def record(call: ApiCall) -> None:
            count_api_call(self.metrics, call)
            recorder(call)

        return RecordingTransport(
            session=self.http,
            service=service,
            recorder=record,
            clock=self.clock,
            timeout=self.settings.http_timeout_seconds,
            secrets=(secret,),
        )


def build_services(settings: Settings) -> Services:
    """Build the services from settings; connections open lazily, on first use."""
    redis_url = settings.redis_url or ensure_embedded_redis(settings.instance_path)
    connection = redis.Redis.from_url(
        redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
    )
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    engine = make_engine(settings.database_url)
    shop_records = ShopRecords(engine, Cipher(settings.encryption_keys))
    return Services(
        settings=settings,
        storage=Storage(engine),
        synclog=SyncLog(engine),
        redis=connection,
        queue=JobQueue(
            connection, retries=settings.retry_max, job_timeout=settings.job_timeout_seconds
        ),
        shops=InstalledShopDirectory(shop_records, SingleStoreDirectory(settings)),
        shop_records=shop_records,
        privacy=PrivacyRecords(engine),
        oauth=OAuthClient(
            session,
            settings.shopify_oauth_url_template,
            settings.shopify_api_key,
            settings.shopify_api_secret,
            settings.http_timeout_seconds,
        ),
        http=session,
        metrics=Metrics(connection, flush_seconds=settings.metrics_flush_seconds),
    )
