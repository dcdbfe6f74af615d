"""The store Admin GraphQL client over a real requests.Session, HTTP answered by `responses`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from bridge.adapters.http import RecordingTransport
from bridge.adapters.storage import ApiCall
from bridge.adapters.store import ShopifyAdminClient
from bridge.domain.errors import PermanentError, TransientError
from tests.conftest import ACCESS_TOKEN, SHOP

URL = f"https://{SHOP}/admin/api/2026-07/graphql.json"
GID = "gid://shopify/Order/820982911946154508"
NOW = datetime(2026, 11, 20, 16, 31, 26, tzinfo=UTC)
TAGS_OK = {"data": {"tagsAdd": {"node": {"id": GID}, "userErrors": []}}}
METAFIELDS_OK = {
    "data": {
        "metafieldsSet": {
            "metafields": [{"id": "gid://shopify/Metafield/1"}],
            "userErrors": [],
        }
    }
}


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def calls() -> list[ApiCall]:
    return []


@pytest.fixture
def store(calls: list[ApiCall]) -> Iterator[ShopifyAdminClient]:
    session = requests.Session()
    transport = RecordingTransport(
        session=session,
        service="store",
        recorder=calls.append,
        clock=lambda: NOW,
        timeout=2.0,
        secrets=(ACCESS_TOKEN,),
    )
    yield ShopifyAdminClient(transport, URL, ACCESS_TOKEN)
    session.close()


def sent(http: responses.RequestsMock, index: int = 0) -> dict[str, Any]:
    body = http.calls[index].request.body
    assert body is not None
    document: dict[str, Any] = json.loads(body)
    return document


def test_tags_add_request_shape(store: ShopifyAdminClient, http: responses.RequestsMock) -> None:
    http.post(
        URL,
        json=TAGS_OK,
        match=[
            matchers.header_matcher(
                {"X-Shopify-Access-Token": ACCESS_TOKEN, "Content-Type": "application/json"}
            )
        ],
    )

    store.add_tags(GID, ["gelato:cancelled"])

    request = sent(http)
    assert "tagsAdd(" in request["query"]
    assert request["query"].lstrip().startswith("mutation")
    assert request["variables"] == {"id": GID, "tags": ["gelato:cancelled"]}


def test_metafields_set_writes_one_json_metafield_as_a_string(
    store: ShopifyAdminClient, http: responses.RequestsMock
) -> None:
    http.post(
        URL,
        json=METAFIELDS_OK,
        match=[matchers.header_matcher({"X-Shopify-Access-Token": ACCESS_TOKEN})],
    )
    value = {"outcome": "cancelled", "gelato_orders": [{"id": "g-1", "status": "passed"}]}

    store.set_json_metafield(GID, "gelato_bridge", "last_action", value)

    request = sent(http)
    assert "metafieldsSet(" in request["query"]
    (metafield,) = request["variables"]["metafields"]
    assert metafield["ownerId"] == GID
    assert metafield["namespace"] == "gelato_bridge"
    assert metafield["key"] == "last_action"
    assert metafield["type"] == "json"
    assert isinstance(metafield["value"], str)
    assert json.loads(metafield["value"]) == value


def test_user_errors_are_a_permanent_error(
    store: ShopifyAdminClient, http: responses.RequestsMock
) -> None:
    refused = {"field": ["id"], "message": "Order does not exist"}
    http.post(URL, json={"data": {"tagsAdd": {"node": None, "userErrors": [refused]}}})

    with pytest.raises(PermanentError) as raised:
        store.add_tags(GID, ["gelato:cancelled"])

    assert raised.value.reason == "store.user_error"
    assert "Order does not exist" in raised.value.message


def throttled(requested: int, available: float, restore_rate: float) -> dict[str, Any]:
    return {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": restore_rate,
                },
            }
        },
    }


@pytest.mark.parametrize(
    ("requested", "available", "restore_rate", "wait"),
    [
        pytest.param(510, 10.0, 100.0, 5.0, id="five-seconds-to-refill"),
        pytest.param(10, 2.0, 100.0, 1.0, id="at-least-one-second"),
    ],
)
def test_throttled_answer_is_transient_with_a_wait_from_the_cost(
    store: ShopifyAdminClient,
    http: responses.RequestsMock,
    requested: int,
    available: float,
    restore_rate: float,
    wait: float,
) -> None:
    http.post(URL, status=200, json=throttled(requested, available, restore_rate))

    with pytest.raises(TransientError) as raised:
        store.add_tags(GID, ["gelato:too-late"])

    assert raised.value.reason == "store.throttled"
    assert raised.value.retry_after == pytest.approx(wait)


def test_other_graphql_errors_are_permanent(
    store: ShopifyAdminClient, http: responses.RequestsMock
) -> None:
    http.post(URL, json={"errors": [{"message": "Field 'x' doesn't exist"}]})

    with pytest.raises(PermanentError) as raised:
        store.add_tags(GID, ["gelato:cancelled"])

    assert raised.value.reason == "store.graphql_error"


def test_http_429_is_transient_with_the_retry_after(
    store: ShopifyAdminClient, http: responses.RequestsMock
) -> None:
    http.post(URL, status=429, headers={"Retry-After": "2.0"}, body="")

    with pytest.raises(TransientError) as raised:
        store.add_tags(GID, ["gelato:cancelled"])

    assert raised.value.reason == "store.rate_limited"
    assert raised.value.retry_after == 2.0


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "store.unauthorized"), (403, "store.forbidden"), (404, "store.not_found")],
)
def test_refusals_are_permanent_errors(
    store: ShopifyAdminClient, http: responses.RequestsMock, status: int, reason: str
) -> None:
    http.post(URL, status=status, json={"errors": "[API] Invalid API key or access token"})

    with pytest.raises(PermanentError) as raised:
        store.set_json_metafield(GID, "gelato_bridge", "last_action", {"outcome": "too_late"})

    assert raised.value.reason == reason


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(
    store: ShopifyAdminClient, http: responses.RequestsMock, status: int
) -> None:
    http.post(URL, status=status, body="upstream error")

    with pytest.raises(TransientError) as raised:
        store.add_tags(GID, ["gelato:cancelled"])

    assert raised.value.reason == "store.unavailable"


def test_timeout_is_transient(store: ShopifyAdminClient, http: responses.RequestsMock) -> None:
    http.post(URL, body=requests.Timeout())

    with pytest.raises(TransientError) as raised:
        store.add_tags(GID, ["gelato:cancelled"])

    assert raised.value.reason == "store.timeout"


def test_access_token_is_never_recorded(
    store: ShopifyAdminClient, http: responses.RequestsMock, calls: list[ApiCall]
) -> None:
    http.post(URL, status=401, json={"errors": f"bad token {ACCESS_TOKEN}"})
    http.post(URL, json=TAGS_OK)
    http.post(URL, body=requests.ConnectionError())

    with pytest.raises(PermanentError):
        store.add_tags(GID, ["gelato:cancelled"])
    store.add_tags(GID, ["gelato:cancelled"])
    with pytest.raises(TransientError):
        store.set_json_metafield(GID, "gelato_bridge", "last_action", {"note": ACCESS_TOKEN})

    assert [(c.service, c.method, c.url, c.status) for c in calls] == [
        ("store", "POST", URL, 401),
        ("store", "POST", URL, 200),
        ("store", "POST", URL, None),
    ]
    for call in calls:
        assert all(ACCESS_TOKEN not in str(field) for field in astuple(call)), call
