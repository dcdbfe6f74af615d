"""Settings: the one reader of the environment, typed and frozen."""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

DEFAULT_SHOPIFY_API_VERSION = "2026-07"
DEFAULT_ADMIN_URL_TEMPLATE = "https://{shop}/admin/api/{version}/graphql.json"
DEFAULT_OAUTH_URL_TEMPLATE = "https://{shop}/admin/oauth/{endpoint}"
DEFAULT_GELATO_API_URL = "https://order.gelatoapis.com"
ORDER_REFERENCE_FIELDS = ("id", "name", "order_number")
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")


_N = TypeVar("_N", int, float)


def instance_path_from_env(environ: Mapping[str, str], default: str) -> Path:
    """The instance folder (SQLite file, embedded Redis, generated key): BRIDGE_INSTANCE_PATH."""
    return Path(environ.get("BRIDGE_INSTANCE_PATH") or default).resolve()


class ConfigError(ValueError):
    """A missing or malformed configuration value, named in the message."""


LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Variables whose values are secrets: the logs mask each value wherever it appears.
SECRET_VARIABLES = (
    "SHOPIFY_API_SECRET",
    "SHOPIFY_API_SECRET_PREVIOUS",
    "SHOPIFY_ACCESS_TOKEN",
    "GELATO_API_KEY",
    "BRIDGE_ENCRYPTION_KEY",
    "BRIDGE_SECRET_KEY",
    "BRIDGE_SUPPORT_TOKEN",
    "BRIDGE_METRICS_TOKEN",
)


@dataclass(frozen=True)
class LogSettings:
    """How the processes log: text or JSON lines, the level, and the secrets never to print."""

    format: str = "text"
    level: str = "INFO"
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LogSettings:
        """Read the logging variables (gunicorn's logger reads them through this too)."""
        env = _Env(environ)
        secrets: list[str] = []
        for name in SECRET_VARIABLES:
            value = env.optional(name)
            if value:
                # A list of keys is masked whole and key by key.
                secrets += [value, *env.listed(name)] if "," in value else [value]
        return cls(
            format=env.choice("BRIDGE_LOG_FORMAT", LOG_FORMATS, "text"),
            level=env.choice("BRIDGE_LOG_LEVEL", LOG_LEVELS, "INFO", upper=True),
            secrets=tuple(dict.fromkeys(secrets)),
        )


# Threads per web process beyond the webhook slots and queue: health checks, the support
# console and the API, and answering the refused webhooks, never wait behind queued ones.
SPARE_THREADS = 4


@dataclass(frozen=True)
class WebTier:
    """How a web process serves: gunicorn's sizes and the webhook admission gate's bounds."""

    port: int = 8000
    workers: int = 2
    # Per process: webhooks running at once, more waiting for a slot, and how long one waits.
    max_inflight_webhooks: int = 2
    max_queued_webhooks: int = 16
    admission_wait_seconds: float = 1.0

    @property
    def threads(self) -> int:
        """gunicorn threads per process: every admitted or queued webhook has one, plus spares."""
        return self.max_inflight_webhooks + self.max_queued_webhooks + SPARE_THREADS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WebTier:
        """Read the web tier's variables (gunicorn.conf.py reads them through this too)."""
        env = _Env(environ)
        return cls(
            port=env.bounded("PORT", 8000, 1, 65535),
            workers=env.bounded("WEB_CONCURRENCY", 2, 1, 64),
            max_inflight_webhooks=env.bounded("BRIDGE_MAX_INFLIGHT_WEBHOOKS", 2, 1, 64),
            max_queued_webhooks=env.bounded("BRIDGE_MAX_QUEUED_WEBHOOKS", 16, 0, 256),
            admission_wait_seconds=env.number("BRIDGE_ADMISSION_WAIT_SECONDS", 1.0, float),
        )


@dataclass(frozen=True)
class Settings:
    """Everything printbridge reads from its environment."""

    instance_path: Path
    shopify_api_secret: str
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    support_token: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    dry_run: bool = False
    shopify_api_key: str | None = None
    shopify_api_secret_previous: str | None = None
    shopify_api_version: str = DEFAULT_SHOPIFY_API_VERSION
    shopify_admin_url_template: str = DEFAULT_ADMIN_URL_TEMPLATE
    shopify_oauth_url_template: str = DEFAULT_OAUTH_URL_TEMPLATE
    shopify_shop: str | None = None
    shopify_access_token: str | None = field(default=None, repr=False)
    gelato_api_url: str = DEFAULT_GELATO_API_URL
    gelato_api_key: str | None = field(default=None, repr=False)
    public_url: str | None = None
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    gelato_order_reference: str = "id"
    allow_country_change: bool = True
    # Tunables with production defaults; tests and the demo shorten them.
    max_body_bytes: int = 1024 * 1024
    http_timeout_seconds: float = 10.0
    retry_max: int = 10
    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 300.0
    not_found_grace_seconds: float = 300.0
    job_timeout_seconds: int = 180
    worker_lease_seconds: int = 60
    subscription_check_seconds: int = 3600
    # The sweep: how often it runs, and how old unfinished work must be before it is re-queued.
    sweep_interval_seconds: float = 60.0
    sweep_grace_seconds: float = 120.0
    # How often a process adds the metrics it counted to Redis (0: only when asked to).
    metrics_flush_seconds: float = 2.0
    web: WebTier = WebTier()
    log: LogSettings = LogSettings()

    def __post_init__(self) -> None:
        if not self.database_url:
            url = f"sqlite:///{self.instance_path / 'printbridge.sqlite3'}"
            object.__setattr__(self, "database_url", url)

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """The secrets a webhook signature may be made with, current first."""
        previous = (self.shopify_api_secret_previous,) if self.shopify_api_secret_previous else ()
        return (self.shopify_api_secret, *previous)

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every secret value configured, for the logs to mask (the generated key included)."""
        values = (
            *self.webhook_secrets,
            self.shopify_access_token,
            self.gelato_api_key,
            *self.encryption_keys,
            self.secret_key,
            self.support_token,
            self.metrics_token,
            *self.log.secrets,
        )
        return tuple(dict.fromkeys(value for value in values if value))

    @property
    def missing_for_install(self) -> tuple[str, ...]:
        """The variables installing shops through OAuth needs that are not set."""
        needed = {
            "SHOPIFY_API_KEY": self.shopify_api_key,
            "BRIDGE_PUBLIC_URL": self.public_url,
            "BRIDGE_ENCRYPTION_KEY": self.encryption_keys,
        }
        return tuple(name for name, value in needed.items() if not value)

    @property
    def embedded_redis(self) -> bool:
        """Whether printbridge runs its own Redis in the instance folder."""
        return self.redis_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str], instance_path: Path) -> Settings:
        """Read and validate the environment; raise ConfigError naming the first bad value."""
        env = _Env(environ)
        instance_path = Path(instance_path)
        return cls(
            instance_path=instance_path,
            shopify_api_secret=env.required("SHOPIFY_API_SECRET"),
            database_url=env.database_url("DATABASE_URL"),
            redis_url=env.url("REDIS_URL", schemes=("redis", "rediss", "unix")),
            secret_key=env.optional("BRIDGE_SECRET_KEY") or _instance_secret_key(instance_path),
            support_token=env.optional("BRIDGE_SUPPORT_TOKEN"),
            metrics_token=env.optional("BRIDGE_METRICS_TOKEN"),
            dry_run=env.flag("BRIDGE_DRY_RUN"),
            shopify_api_key=env.optional("SHOPIFY_API_KEY"),
            shopify_api_secret_previous=env.optional("SHOPIFY_API_SECRET_PREVIOUS"),
            shopify_api_version=env.matching(
                "SHOPIFY_API_VERSION", API_VERSION, DEFAULT_SHOPIFY_API_VERSION, "like 2026-07"
            ),
            shopify_admin_url_template=env.template(
                "SHOPIFY_ADMIN_URL_TEMPLATE", DEFAULT_ADMIN_URL_TEMPLATE, ("{shop}", "{version}")
            ),
            shopify_oauth_url_template=env.template(
                "SHOPIFY_OAUTH_URL_TEMPLATE", DEFAULT_OAUTH_URL_TEMPLATE, ("{shop}", "{endpoint}")
            ),
            shopify_shop=env.shop("SHOPIFY_SHOP"),
            shopify_access_token=env.optional("SHOPIFY_ACCESS_TOKEN"),
            gelato_api_url=(
                env.url("GELATO_API_URL", schemes=("http", "https")) or DEFAULT_GELATO_API_URL
            ).rstrip("/"),
            gelato_api_key=env.optional("GELATO_API_KEY"),
            public_url=_no_trailing_slash(env.url("BRIDGE_PUBLIC_URL", schemes=("http", "https"))),
            encryption_keys=env.fernet_keys("BRIDGE_ENCRYPTION_KEY"),
            gelato_order_reference=env.choice(
                "GELATO_ORDER_REFERENCE", ORDER_REFERENCE_FIELDS, "id"
            ),
            allow_country_change=env.flag("BRIDGE_ALLOW_COUNTRY_CHANGE", default="1"),
            max_body_bytes=env.number("BRIDGE_MAX_BODY_BYTES", 1024 * 1024, int),
            http_timeout_seconds=env.number("BRIDGE_HTTP_TIMEOUT_SECONDS", 10.0, float),
            retry_max=env.number("BRIDGE_RETRY_MAX", 10, int),
            retry_base_seconds=env.number("BRIDGE_RETRY_BASE_SECONDS", 2.0, float),
            retry_cap_seconds=env.number("BRIDGE_RETRY_CAP_SECONDS", 300.0, float),
            not_found_grace_seconds=env.number("BRIDGE_NOT_FOUND_GRACE_SECONDS", 300.0, float),
            worker_lease_seconds=max(1, env.number("BRIDGE_WORKER_LEASE_SECONDS", 60, int)),
            subscription_check_seconds=max(
                1, env.number("BRIDGE_SUBSCRIPTION_CHECK_SECONDS", 3600, int)
            ),
            sweep_interval_seconds=env.at_least("BRIDGE_SWEEP_INTERVAL_SECONDS", 60.0, 1.0),
            sweep_grace_seconds=env.number("BRIDGE_SWEEP_GRACE_SECONDS", 120.0, float),
            web=WebTier.from_env(environ),
            log=LogSettings.from_env(environ),
        )


class _Env:
    """Typed access to environment variables, each failure a ConfigError naming the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise ConfigError(f"{name} is required but not set")
        return value

    def flag(self, name: str, default: str = "0") -> bool:
        value = self.optional(name) or default
        if value not in ("0", "1"):
            raise ConfigError(f"{name} must be 0 or 1, not {value!r}")
        return value == "1"

    def choice(self, name: str, choices: tuple[str, ...], default: str, upper: bool = False) -> str:
        value = self.optional(name) or default
        if upper:
            value = value.upper()
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def matching(self, name: str, pattern: re.Pattern[str], default: str, hint: str) -> str:
        value = self.optional(name) or default
        if not pattern.match(value):
            raise ConfigError(f"{name} must look {hint}, not {value!r}")
        return value

    def number(self, name: str, default: _N, kind: type[_N]) -> _N:
        value = self.optional(name)
        if value is None:
            return default
        try:
            number = kind(value)
        except ValueError:
            raise ConfigError(f"{name} must be a {kind.__name__}, not {value!r}") from None
        if not math.isfinite(number) or number < 0:
            raise ConfigError(f"{name} must be a finite number, not negative: {value!r}")
        return number

    def bounded(self, name: str, default: int, low: int, high: int) -> int:
        """A whole number from low to high."""
        number = self.number(name, default, int)
        if not low <= number <= high:
            raise ConfigError(f"{name} must be from {low} to {high}, not {number}")
        return number

    def at_least(self, name: str, default: float, low: float) -> float:
        """A number of seconds no smaller than `low`."""
        number = self.number(name, default, float)
        if number < low:
            raise ConfigError(f"{name} must be at least {low:g}, not {number:g}")
        return number

    def url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        value = self.optional(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ConfigError(f"{name} must be a {'/'.join(schemes)} URL, not {value!r}")
        return value

    def database_url(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            return ""
        scheme = urlsplit(value).scheme.split("+")[0]
        if scheme in ("postgres", "postgresql"):
            # psycopg 3 is the driver printbridge ships; bare postgres:// URLs (as many hosts
            # hand them out) would otherwise select psycopg2.
            return "postgresql+psycopg" + value[value.index(":") :]
        if scheme != "sqlite":
            raise ConfigError(f"{name} must be a sqlite:// or postgresql:// URL, not {value!r}")
        return value

    def template(self, name: str, default: str, placeholders: tuple[str, ...]) -> str:
        value = self.optional(name) or default
        missing = [p for p in placeholders if p not in value]
        if missing or urlsplit(value).scheme not in ("http", "https"):
            raise ConfigError(
                f"{name} must be an http(s) URL containing {' and '.join(placeholders)}"
            )
        return value

    def shop(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not SHOP_DOMAIN.match(value):
            raise ConfigError(f"{name} must be a shop domain like example.myshopify.com")
        return value

    def listed(self, name: str) -> tuple[str, ...]:
        value = self.optional(name) or ""
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def fernet_keys(self, name: str) -> tuple[str, ...]:
        """A comma-separated list of Fernet keys (url-safe base64 of 32 bytes), newest first."""
        keys = self.listed(name)
        for position, key in enumerate(keys, start=1):
            try:
                raw = base64.urlsafe_b64decode(key.encode("ascii"))
            except (binascii.Error, UnicodeEncodeError, ValueError):
                raw = b""
            if len(raw) != 32:
                # The message names the variable and the position, never the key itself.
                raise ConfigError(
                    f"{name} key {position} is not a Fernet key (32 url-safe base64 bytes; "
                    "make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                )
        return keys


def _no_trailing_slash(url: str | None) -> str | None:
    return url.rstrip("/") if url else url


def _instance_secret_key(instance_path: Path) -> str:
    """Return the signing key kept in the instance folder, creating it on first use."""
    path = instance_path / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd, temporary = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        # link() is atomic and refuses to replace: when web and worker start together,
        # exactly one key wins and both read the same complete file.
        os.link(temporary, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        os.unlink(temporary)
    return key
