"""Log lines: JSON or text, the ids of the work at hand, no secrets and no addresses."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import ConfigError, LogSettings, Settings
from bridge.logs import (
    REDACTED,
    JsonFormatter,
    RedactionFilter,
    TextFormatter,
    bind,
    context_ids,
    log_context,
    logging_config,
    redact,
)

SECRET = "whsec-0123456789abcdef"
GELATO_KEY = "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab:feedbeefcafe"


class Captured:
    """A logger whose lines, formatted and filtered as configured, land in a buffer."""

    def __init__(self, formatter: logging.Formatter, secrets: tuple[str, ...] = ()) -> None:
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(formatter)
        handler.addFilter(RedactionFilter(secrets))
        self.logger = logging.getLogger(f"printbridge.test.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(handler)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def captured() -> Captured:
    return Captured(JsonFormatter(), secrets=(SECRET, GELATO_KEY))


def test_json_lines_hold_time_level_logger_and_message_one_object_per_line(
    captured: Captured,
) -> None:
    captured.logger.warning("two\nlines for %s", "one record")

    [line] = captured.lines()
    document = json.loads(line)
    assert document["message"] == "two\nlines for one record"
    assert document["level"] == "WARNING"
    assert document["logger"] == captured.logger.name
    assert document["time"].endswith("Z")
    assert document["time"][10] == "T"
    assert "delivery_id" not in document


def test_lines_inside_a_context_carry_its_ids_and_those_bound_later(captured: Captured) -> None:
    with log_context(job_id="job-1", action_id="a1"):
        captured.logger.info("started")
        bind(shop="example.myshopify.com")
        captured.logger.info("shop known")
    captured.logger.info("after")

    started, shop_known, after = captured.objects()
    assert (started["job_id"], started["action_id"]) == ("job-1", "a1")
    assert "shop" not in started
    assert shop_known["shop"] == "example.myshopify.com"
    assert not {"job_id", "action_id", "shop"} & set(after)
    assert context_ids() == {}


def test_a_nested_context_adds_ids_and_gives_them_back(captured: Captured) -> None:
    with log_context(delivery_id="w1"), log_context(action_id="a1"):
        assert context_ids() == {"delivery_id": "w1", "action_id": "a1"}
    assert context_ids() == {}


def test_configured_secrets_are_masked_in_messages_and_tracebacks(captured: Captured) -> None:
    try:
        raise RuntimeError(f"Gelato refused key {GELATO_KEY}")
    except RuntimeError:
        captured.logger.exception("webhook secret %s failed", SECRET)

    [document] = captured.objects()
    text = json.dumps(document)
    assert SECRET not in text
    assert GELATO_KEY not in text
    assert document["message"] == f"webhook secret {REDACTED} failed"
    assert f"Gelato refused key {REDACTED}" in document["exception"]


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("token shpat_0123456789abcdef0123 was refused", "shpat_0123456789abcdef0123"),
        ("headers {'X-API-KEY': 'k-123-secret'}", "k-123-secret"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ('{"access_token": "tok-9876543210"}', "tok-9876543210"),
        ("GET /auth/callback?code=one-time-code&hmac=f00d&shop=x", "one-time-code"),
        ("GET /auth/callback?code=one-time-code&hmac=f00dcafe&shop=x", "f00dcafe"),
        ("stored gAAAAABmZ0123456789abcdefghijklmnopqrstuvwxyz==", "gAAAAABmZ0123456789"),
        ('{"address1": "Chestnut Street 92", "city": "Louisville"}', "Chestnut Street 92"),
        ('{"address1": "Chestnut Street 92", "city": "Louisville"}', "Louisville"),
        ("Address(address_line_1='1 Ship St', post_code='40202')", "1 Ship St"),
        ("Address(address_line_1='1 Ship St', post_code='40202')", "40202"),
        ('{"addressLine1": "1 Ship St", "postCode": "40202"}', "1 Ship St"),
        ('{"firstName": "Bob", "lastName": "Norman", "phone": "+1 555"}', "Norman"),
        ("mail to bob.norman@mail.example.com bounced", "bob.norman@mail.example.com"),
    ],
)
def test_secret_shapes_query_credentials_and_addresses_are_masked(text: str, hidden: str) -> None:
    assert hidden not in redact(text)


def test_ids_shop_domains_and_outcomes_are_kept() -> None:
    text = "action 4f3c cancelled for example.myshopify.com order #1001: too_late (state=done)"

    assert redact(text) == text


def test_short_configured_values_are_not_masked_by_value() -> None:
    assert redact("action abc ended", secrets=("abc",)) == "action abc ended"


def test_a_bad_format_string_is_logged_not_raised(captured: Captured) -> None:
    captured.logger.info("%d orders", "not a number")

    [document] = captured.objects()
    assert "orders" in document["message"]


def test_text_lines_end_with_the_ids_known() -> None:
    text = Captured(TextFormatter(), secrets=(SECRET,))
    with log_context(delivery_id="w1", shop="example.myshopify.com"):
        text.logger.info("recorded with %s", SECRET)

    [line] = text.lines()
    assert line.endswith(f"recorded with {REDACTED} [delivery_id=w1 shop=example.myshopify.com]")


@pytest.fixture
def root_restored() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_the_process_configuration_writes_redacted_json_at_the_level_asked(
    root_restored: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = LogSettings(format="json", level="WARNING", secrets=(SECRET,))
    logging.config.dictConfig(logging_config(settings, secrets=(GELATO_KEY,)))

    logging.getLogger("bridge.sync").info("not shown")
    logging.getLogger("bridge.sync").warning("keys %s and %s", SECRET, GELATO_KEY)

    [line] = capsys.readouterr().err.splitlines()
    document = json.loads(line)
    assert document["logger"] == "bridge.sync"
    assert document["message"] == f"keys {REDACTED} and {REDACTED}"


def test_log_settings_are_read_from_the_environment_with_every_secret() -> None:
    keys = "a" * 43 + "=," + "b" * 43 + "="
    settings = LogSettings.from_env(
        {
            "BRIDGE_LOG_FORMAT": "json",
            "BRIDGE_LOG_LEVEL": "debug",
            "SHOPIFY_API_SECRET": SECRET,
            "GELATO_API_KEY": GELATO_KEY,
            "BRIDGE_ENCRYPTION_KEY": keys,
            "BRIDGE_METRICS_TOKEN": "metrics-token-01",
        }
    )

    assert (settings.format, settings.level) == ("json", "DEBUG")
    assert {SECRET, GELATO_KEY, "a" * 43 + "=", "b" * 43 + "=", "metrics-token-01"} <= set(
        settings.secrets
    )
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"), [("BRIDGE_LOG_FORMAT", "xml"), ("BRIDGE_LOG_LEVEL", "loud")]
)
def test_malformed_log_settings_are_config_errors_naming_them(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        LogSettings.from_env({name: value})


def test_settings_know_every_secret_value_including_the_generated_key(tmp_path: Path) -> None:
    settings = Settings(
        instance_path=tmp_path,
        shopify_api_secret=SECRET,
        gelato_api_key=GELATO_KEY,
        secret_key="generated-signing-key",
        metrics_token="metrics-token-01",
    )

    assert {SECRET, GELATO_KEY, "generated-signing-key", "metrics-token-01"} <= set(
        settings.secret_values
    )
