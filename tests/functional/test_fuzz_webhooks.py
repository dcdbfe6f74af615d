"""Property-based input to the webhook route: never a 500, never queued without a valid HMAC."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.adapters.tables import metadata
from bridge.app import services_of
from tests.conftest import ACCESS_TOKEN, GELATO_KEY, PREVIOUS_SECRET, SECRET, SUPPORT_TOKEN
from tests.support.webhooks import delivery_headers

SECRETS = (SECRET, PREVIOUS_SECRET, ACCESS_TOKEN, GELATO_KEY, SUPPORT_TOKEN)


class Huge(bytes):
    """A large body that hypothesis reports by its size rather than its bytes."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes>"


TOPICS = st.sampled_from(
    ["orders/cancelled", "orders/updated", "orders/create", "app/uninstalled", "x/y", ""]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=2000),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.integers(min_value=1, max_value=3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.builds(
        lambda order_id, cut: json.dumps({"id": order_id, "cancelled_at": "x"}).encode()[:cut],
        st.integers(),
        st.integers(min_value=0, max_value=60),
    ),
    # Around and past the 1 MiB body limit: a valid order padded with a long note.
    st.integers(min_value=1024 * 1024 - 64, max_value=3 * 1024 * 1024).map(
        lambda size: Huge(b'{"id": 1, "note": "' + b"n" * size + b'"}')
    ),
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)


def _fuzz_settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@_fuzz_settings(150)
@given(body=BODIES, topic=TOPICS, signature=HEADER_TEXT, shop=HEADER_TEXT, webhook_id=HEADER_TEXT)
def test_unsigned_input_is_401_and_queues_nothing(
    app: Flask, body: bytes, topic: str, signature: str, shop: str, webhook_id: str
) -> None:
    response = app.test_client().post(
        "/webhooks/shopify",
        data=body,
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Webhook-Id": webhook_id,
        },
    )

    # Too large a body is refused before it is read, so before its signature is checked.
    too_large = len(body) > services_of(app).settings.max_body_bytes
    assert response.status_code == (413 if too_large else 401)
    assert services_of(app).queue.queue.count == 0
    text = response.get_data(as_text=True)
    assert not any(secret in text for secret in SECRETS)


def _leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def _stored_text(app: Flask) -> str:
    """Every row of every table and every value in Redis, as one text to search."""
    services = services_of(app)
    parts: list[str] = []
    with services.storage.engine.connect() as connection:
        for table in metadata.sorted_tables:
            parts.extend(repr(tuple(row)) for row in connection.execute(sa.select(table)))
    client = services.redis
    for key in client.scan_iter(count=500):
        kind = client.type(key)
        if kind == b"string":
            parts.append(repr(client.get(key)))
        elif kind == b"hash":
            parts.append(repr(client.hgetall(key)))
        elif kind == b"list":
            parts.append(repr(client.lrange(key, 0, -1)))
        elif kind in (b"set", b"zset"):
            parts.append(
                repr(client.zrange(key, 0, -1) if kind == b"zset" else client.smembers(key))
            )
    return "\n".join(parts)


@_fuzz_settings(150)
@given(body=BODIES, topic=TOPICS)
def test_signed_garbage_never_answers_500_or_leaks_a_secret(
    app: Flask, caplog: pytest.LogCaptureFixture, body: bytes, topic: str
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    response = app.test_client().post(
        "/webhooks/shopify", data=body, headers=delivery_headers(body, topic=topic)
    )

    assert response.status_code in (200, 400, 413)
    assert _leaked(response.get_data(as_text=True)) == []
    assert _leaked(caplog.text) == []
    assert _leaked(_stored_text(app)) == []
