"""Log lines of the webhook path and the worker carry their ids and never a secret or address."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from bridge.app import services_of
from bridge.logs import JsonFormatter, RedactionFilter
from tests.conftest import ACCESS_TOKEN, GELATO_KEY, SECRET
from tests.functional.conftest import Sandbox
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain

ORDER_ID = 820982911946154508


class Lines:
    """JSON lines written by a handler on the root logger, as a process configured for json."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def lines(app: Flask) -> Iterator[Lines]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactionFilter(services_of(app).settings.secret_values))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield Lines(stream)
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_delivery_that_cannot_be_queued_is_logged_with_its_ids_and_no_address(
    make_app: Any, lines: Lines
) -> None:
    client = make_app(redis_url="redis://127.0.0.1:9/0").test_client()
    body = encode(order_payload(ORDER_ID))
    headers = delivery_headers(body, webhook_id="delivery-42")

    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 503

    [line] = [line for line in lines.all() if line["logger"] == "bridge.intake"]
    assert line["level"] == "ERROR"
    assert line["delivery_id"] == "delivery-42"
    assert line["shop"] == headers["X-Shopify-Shop-Domain"]
    assert len(line["action_id"]) == 32
    assert "ConnectionError" in line["exception"]
    for private in ("Chestnut Street", "bob.norman@mail.example.com", SECRET):
        assert private not in lines.text()


def test_the_workers_lines_carry_the_job_action_and_shop(
    client: Any, gelato: Sandbox, store: Sandbox, lines: Lines
) -> None:
    gelato.post(
        "/_sandbox/orders",
        {"orderReferenceId": str(ORDER_ID), "parts": 1, "statuses": ["passed"]},
    )
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 503, "count": 1})
    body = encode(order_payload(ORDER_ID))
    assert (
        client.post("/webhooks/shopify", data=body, headers=delivery_headers(body)).status_code
        == 200
    )

    drain(client.application)

    [retry] = [line for line in lines.all() if "will be retried" in line["message"]]
    assert retry["job_id"] == retry["action_id"]
    assert retry["shop"] == "bridge-test.myshopify.com"
    assert not [
        line for line in lines.all() if line["logger"] == "bridge.worker" and "job_id" not in line
    ]
    for secret in (GELATO_KEY, ACCESS_TOKEN, SECRET):
        assert secret not in lines.text()
