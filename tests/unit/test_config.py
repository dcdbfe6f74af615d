"""Settings from the environment: defaults, validation naming the variable, the secret key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.config import (
    DEFAULT_ADMIN_URL_TEMPLATE,
    DEFAULT_GELATO_API_URL,
    DEFAULT_SHOPIFY_API_VERSION,
    ConfigError,
    Settings,
)

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"SHOPIFY_API_SECRET": "s3cret"}
NEW_KEY = "mR6XdZ2cYGrmCYcqxzfa8DDWmfwH252AWGE4pueuHyU="
OLD_KEY = "eukeeuJgpr53MDjN1-aqiEpp1NDMUdkBf0eEx849GgY="


def from_env(instance: Path, **environ: str) -> Settings:
    return Settings.from_env({**MINIMAL, **environ}, instance_path=instance)


def test_defaults_with_only_the_webhook_secret(tmp_path: Path) -> None:
    settings = from_env(tmp_path)

    assert settings.shopify_api_secret == "s3cret"
    assert settings.database_url == f"sqlite:///{tmp_path / 'printbridge.sqlite3'}"
    assert settings.redis_url is None
    assert settings.embedded_redis
    assert settings.shopify_api_version == DEFAULT_SHOPIFY_API_VERSION == "2026-07"
    assert settings.shopify_admin_url_template == DEFAULT_ADMIN_URL_TEMPLATE
    assert settings.gelato_api_url == DEFAULT_GELATO_API_URL == "https://order.gelatoapis.com"
    assert settings.gelato_order_reference == "id"
    assert settings.dry_run is False
    assert settings.support_token is None
    assert settings.webhook_secrets == ("s3cret",)
    assert settings.worker_lease_seconds == 60
    assert settings.sweep_interval_seconds == 60
    assert settings.sweep_grace_seconds == 120


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_webhook_secret_is_a_config_error_naming_it(
    tmp_path: Path, value: str | None
) -> None:
    environ = {} if value is None else {"SHOPIFY_API_SECRET": value}

    with pytest.raises(ConfigError, match="SHOPIFY_API_SECRET"):
        Settings.from_env(environ, instance_path=tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BRIDGE_DRY_RUN", "yes"),
        ("BRIDGE_DRY_RUN", "true"),
        ("GELATO_ORDER_REFERENCE", "sku"),
        ("SHOPIFY_SHOP", "evil.com"),
        ("SHOPIFY_SHOP", "shop.myshopify.com.evil.com"),
        ("SHOPIFY_SHOP", "https://shop.myshopify.com"),
        ("SHOPIFY_ADMIN_URL_TEMPLATE", "https://example.com/admin/api/{version}/graphql.json"),
        ("SHOPIFY_ADMIN_URL_TEMPLATE", "https://{shop}/admin/api/graphql.json"),
        ("SHOPIFY_ADMIN_URL_TEMPLATE", "ftp://{shop}/admin/api/{version}/graphql.json"),
        ("SHOPIFY_API_VERSION", "2026-08"),
        ("SHOPIFY_API_VERSION", "latest"),
        ("DATABASE_URL", "mysql://root@db/printbridge"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://127.0.0.1:6379/0"),
        ("GELATO_API_URL", "order.gelatoapis.com"),
        ("BRIDGE_PUBLIC_URL", "ftp://bridge.example.com"),
        ("BRIDGE_RETRY_MAX", "-1"),
        ("BRIDGE_RETRY_MAX", "ten"),
        ("BRIDGE_RETRY_MAX", "2.5"),
        ("BRIDGE_HTTP_TIMEOUT_SECONDS", "-0.5"),
        ("BRIDGE_MAX_BODY_BYTES", "1MB"),
        ("BRIDGE_NOT_FOUND_GRACE_SECONDS", "-300"),
        ("BRIDGE_SWEEP_INTERVAL_SECONDS", "0"),
        ("BRIDGE_SWEEP_INTERVAL_SECONDS", "0.5"),
        ("BRIDGE_SWEEP_INTERVAL_SECONDS", "a minute"),
        ("BRIDGE_SWEEP_INTERVAL_SECONDS", "inf"),
        ("BRIDGE_SWEEP_GRACE_SECONDS", "-1"),
        ("BRIDGE_SWEEP_GRACE_SECONDS", "2m"),
        ("BRIDGE_SWEEP_GRACE_SECONDS", "nan"),
    ],
)
def test_malformed_value_is_a_config_error_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        from_env(tmp_path, **{name: value})

    message = str(raised.value)
    assert name in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BRIDGE_HTTP_TIMEOUT_SECONDS", "nan"),
        ("BRIDGE_RETRY_BASE_SECONDS", "inf"),
        ("BRIDGE_RETRY_CAP_SECONDS", "-inf"),
    ],
)
def test_non_finite_number_is_a_config_error(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env(tmp_path, **{name: value})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/bridge", "postgresql+psycopg://u:p@db:5432/bridge"),
        ("postgresql://u@db/bridge", "postgresql+psycopg://u@db/bridge"),
        ("postgresql+psycopg://u@db/bridge", "postgresql+psycopg://u@db/bridge"),
        ("sqlite:////var/lib/bridge.sqlite3", "sqlite:////var/lib/bridge.sqlite3"),
    ],
)
def test_database_url_selects_psycopg_3_for_postgres(
    tmp_path: Path, given: str, expected: str
) -> None:
    assert from_env(tmp_path, DATABASE_URL=given).database_url == expected


@pytest.mark.parametrize(
    "url", ["redis://cache:6379/0", "rediss://cache:6380/1", "unix:///run/redis.sock"]
)
def test_redis_url_given_means_no_embedded_redis(tmp_path: Path, url: str) -> None:
    settings = from_env(tmp_path, REDIS_URL=url)

    assert settings.redis_url == url
    assert not settings.embedded_redis


def test_values_are_read_and_typed(tmp_path: Path) -> None:
    settings = from_env(
        tmp_path,
        BRIDGE_DRY_RUN="1",
        GELATO_ORDER_REFERENCE="order_number",
        SHOPIFY_SHOP="my-shop.myshopify.com",
        GELATO_API_URL="http://127.0.0.1:9000/",
        BRIDGE_ENCRYPTION_KEY=f" {NEW_KEY} , {OLD_KEY} ,,",
        BRIDGE_RETRY_MAX="3",
        BRIDGE_HTTP_TIMEOUT_SECONDS="2.5",
        BRIDGE_WORKER_LEASE_SECONDS="15",
        BRIDGE_SWEEP_INTERVAL_SECONDS="2",
        BRIDGE_SWEEP_GRACE_SECONDS="4.5",
    )

    assert settings.dry_run is True
    assert settings.gelato_order_reference == "order_number"
    assert settings.shopify_shop == "my-shop.myshopify.com"
    assert settings.gelato_api_url == "http://127.0.0.1:9000"
    assert settings.encryption_keys == (NEW_KEY, OLD_KEY)
    assert settings.retry_max == 3
    assert settings.http_timeout_seconds == 2.5
    assert settings.worker_lease_seconds == 15
    assert settings.sweep_interval_seconds == 2.0
    assert settings.sweep_grace_seconds == 4.5


def test_sweep_grace_may_be_zero_and_interval_one_second(tmp_path: Path) -> None:
    settings = from_env(tmp_path, BRIDGE_SWEEP_INTERVAL_SECONDS="1", BRIDGE_SWEEP_GRACE_SECONDS="0")

    assert (settings.sweep_interval_seconds, settings.sweep_grace_seconds) == (1.0, 0.0)


def test_webhook_secrets_are_current_first_then_previous(tmp_path: Path) -> None:
    settings = from_env(tmp_path, SHOPIFY_API_SECRET_PREVIOUS="old")

    assert settings.webhook_secrets == ("s3cret", "old")


def test_secret_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    instance = tmp_path / "instance"

    first = from_env(instance).secret_key
    second = from_env(instance).secret_key

    assert len(first) >= 32
    assert first == second
    key_file = instance / "secret_key"
    assert key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [path.name for path in instance.iterdir()] == ["secret_key"]


def test_secret_key_from_the_environment_wins_and_writes_nothing(tmp_path: Path) -> None:
    settings = from_env(tmp_path, BRIDGE_SECRET_KEY="from-env")

    assert settings.secret_key == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_two_instance_folders_get_different_secret_keys(tmp_path: Path) -> None:
    assert from_env(tmp_path / "a").secret_key != from_env(tmp_path / "b").secret_key


def test_create_app_without_configuration_stops_with_one_line_naming_the_secret(
    tmp_path: Path,
) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "from bridge.app import create_app; create_app()"],
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode != 0
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert "SHOPIFY_API_SECRET" in lines[0]
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    "value",
    [
        "not-a-key",
        NEW_KEY[:-4],
        f"{NEW_KEY},short",
        "A" * 44,  # base64 of 33 bytes, not 32
        "é" * 44,
    ],
)
def test_malformed_encryption_key_is_a_config_error_naming_the_variable_not_the_key(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_ENCRYPTION_KEY") as raised:
        from_env(tmp_path, BRIDGE_ENCRYPTION_KEY=value)

    assert value not in str(raised.value)


@pytest.mark.parametrize(
    "template",
    [
        "https://{shop}/admin/oauth/",
        "https://example.com/{endpoint}",
        "ftp://{shop}/admin/oauth/{endpoint}",
    ],
)
def test_oauth_url_template_needs_http_shop_and_endpoint(tmp_path: Path, template: str) -> None:
    with pytest.raises(ConfigError, match="SHOPIFY_OAUTH_URL_TEMPLATE"):
        from_env(tmp_path, SHOPIFY_OAUTH_URL_TEMPLATE=template)


def test_oauth_url_template_defaults_to_the_shops_admin(tmp_path: Path) -> None:
    assert from_env(tmp_path).shopify_oauth_url_template == (
        "https://{shop}/admin/oauth/{endpoint}"
    )


def test_installing_shops_names_each_missing_variable_but_start_up_does_not_need_them(
    tmp_path: Path,
) -> None:
    bare = from_env(tmp_path)
    ready = from_env(
        tmp_path,
        SHOPIFY_API_KEY="client-id",
        BRIDGE_PUBLIC_URL="https://bridge.example.com/",
        BRIDGE_ENCRYPTION_KEY=NEW_KEY,
    )

    assert bare.missing_for_install == (
        "SHOPIFY_API_KEY",
        "BRIDGE_PUBLIC_URL",
        "BRIDGE_ENCRYPTION_KEY",
    )
    assert ready.missing_for_install == ()
    assert ready.public_url == "https://bridge.example.com"


class _Recording(dict[str, str]):
    """An environment that remembers every name asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_every_variable_printbridge_reads_is_documented_in_env_example(tmp_path: Path) -> None:
    environ = _Recording(dict(MINIMAL))
    Settings.from_env(environ, instance_path=tmp_path)
    documented = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }

    assert environ.asked - documented == set()
    assert "SHOPIFY_OAUTH_URL_TEMPLATE" in environ.asked


def test_web_tier_defaults_and_threads_cover_every_admitted_and_queued_webhook(
    tmp_path: Path,
) -> None:
    web = from_env(tmp_path).web

    assert (web.port, web.workers) == (8000, 2)
    assert (web.max_inflight_webhooks, web.max_queued_webhooks) == (2, 16)
    assert web.admission_wait_seconds == 1.0
    assert web.threads == 2 + 16 + 4


def test_web_tier_is_read_from_the_environment(tmp_path: Path) -> None:
    web = from_env(
        tmp_path,
        PORT="5000",
        WEB_CONCURRENCY="4",
        BRIDGE_MAX_INFLIGHT_WEBHOOKS="3",
        BRIDGE_MAX_QUEUED_WEBHOOKS="0",
        BRIDGE_ADMISSION_WAIT_SECONDS="0.25",
    ).web

    assert (web.port, web.workers, web.max_inflight_webhooks) == (5000, 4, 3)
    assert (web.max_queued_webhooks, web.admission_wait_seconds) == (0, 0.25)
    assert web.threads == 7


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("PORT", "70000"),
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "two"),
        ("BRIDGE_MAX_INFLIGHT_WEBHOOKS", "0"),
        ("BRIDGE_MAX_QUEUED_WEBHOOKS", "-1"),
        ("BRIDGE_MAX_QUEUED_WEBHOOKS", "1000"),
        ("BRIDGE_ADMISSION_WAIT_SECONDS", "-1"),
        ("BRIDGE_ADMISSION_WAIT_SECONDS", "soon"),
    ],
)
def test_malformed_web_tier_values_are_config_errors_naming_them(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env(tmp_path, **{name: value})


def test_metrics_are_open_unless_a_token_is_set_and_logs_default_to_text(tmp_path: Path) -> None:
    default = from_env(tmp_path)
    configured = from_env(
        tmp_path,
        BRIDGE_METRICS_TOKEN="metrics-token-01",
        BRIDGE_LOG_FORMAT="json",
        BRIDGE_LOG_LEVEL="warning",
    )

    assert default.metrics_token is None
    assert (default.log.format, default.log.level) == ("text", "INFO")
    assert configured.metrics_token == "metrics-token-01"
    assert (configured.log.format, configured.log.level) == ("json", "WARNING")
    assert "metrics-token-01" not in repr(configured)
