"""The composition root: builds every outside-facing service, for web and worker alike."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import requests

from bridge.adapters.database import make_engine
from bridge.adapters.embedded_redis import ensure_embedded_redis
from bridge.adapters.gelato import GelatoApi, GelatoClient
from bridge.adapters.http import Recorder, RecordingTransport
from bridge.adapters.queue import JobQueue
from bridge.adapters.shops import ShopAccess, ShopDirectory, SingleStoreDirectory
from bridge.adapters.storage import Storage
from bridge.adapters.store import ShopifyAdminClient, StoreAdmin
from bridge.adapters.synclog import SyncLog
from bridge.config import Settings

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
    http: requests.Session
    clock: Callable[[], datetime] = utc_now
    random: Callable[[], float] = random.random

    def gelato(self, access: ShopAccess, recorder: Recorder) -> GelatoApi:
        """A Gelato client for one shop, recording each call."""
        key = access.gelato_api_key or ""
        return GelatoClient(
            self._transport("gelato", recorder, key), self.settings.gelato_api_url, key
        )

    def store(self, access: ShopAccess, recorder: Recorder) -> StoreAdmin:
        """A store-admin client for one shop, recording each call."""
        token = access.access_token or ""
        url = self.settings.shopify_admin_url_template.format(
            shop=access.shop, version=self.settings.shopify_api_version
        )
        return ShopifyAdminClient(self._transport("store", recorder, token), url, token)

    def _transport(self, service: str, recorder: Recorder, secret: str) -> RecordingTransport:
        return RecordingTransport(
            session=self.http,
            service=service,
            recorder=recorder,
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
    return Services(
        settings=settings,
        storage=Storage(engine),
        synclog=SyncLog(engine),
        redis=connection,
        queue=JobQueue(
            connection, retries=settings.retry_max, job_timeout=settings.job_timeout_seconds
        ),
        shops=SingleStoreDirectory(settings),
        http=session,
    )
