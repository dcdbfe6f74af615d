"""Property-based input to the webhook route: never a 500, never queued without a valid HMAC."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.app import services_of
from tests.conftest import ACCESS_TOKEN, GELATO_KEY, PREVIOUS_SECRET, SECRET, SUPPORT_TOKEN
from tests.support.webhooks import delivery_headers

SECRETS = (SECRET, PREVIOUS_SECRET, ACCESS_TOKEN, GELATO_KEY, SUPPORT_TOKEN)
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

    assert response.status_code == 401
    assert services_of(app).queue.queue.count == 0
    text = response.get_data(as_text=True)
    assert not any(secret in text for secret in SECRETS)


@_fuzz_settings(150)
@given(body=BODIES, topic=TOPICS)
def test_signed_garbage_never_answers_500_or_leaks_a_secret(
    app: Flask, body: bytes, topic: str
) -> None:
    response = app.test_client().post(
        "/webhooks/shopify", data=body, headers=delivery_headers(body, topic=topic)
    )

    assert response.status_code in (200, 400, 413)
    text = response.get_data(as_text=True)
    assert not any(secret in text for secret in SECRETS)
