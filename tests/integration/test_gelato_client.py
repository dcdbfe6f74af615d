"""The Gelato client over a real requests.Session, HTTP answered by `responses`."""

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

from bridge.adapters.gelato import SEARCH_LIMIT, GelatoClient, GelatoOrder
from bridge.adapters.http import RecordingTransport
from bridge.adapters.storage import ApiCall
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.retry import Answer
from tests.conftest import GELATO_KEY

BASE = "https://gelato.test"
SEARCH = f"{BASE}/v4/orders:search"
ORDER_ID = "37365096-6628-4538-a9c2-fbf9892deb85"
NOW = datetime(2026, 11, 20, 16, 31, 26, tzinfo=UTC)


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def calls() -> list[ApiCall]:
    return []


@pytest.fixture
def gelato(calls: list[ApiCall]) -> Iterator[GelatoClient]:
    session = requests.Session()
    transport = RecordingTransport(
        session=session,
        service="gelato",
        recorder=calls.append,
        clock=lambda: NOW,
        timeout=2.0,
        secrets=(GELATO_KEY,),
    )
    yield GelatoClient(transport, BASE + "/", GELATO_KEY)
    session.close()


def order(number: int, reference: str = "1001", status: str = "passed") -> dict[str, Any]:
    return {
        "id": f"gelato-{number}",
        "orderReferenceId": reference,
        "fulfillmentStatus": status,
        "orderType": "order",
    }


def test_search_sends_the_reference_and_the_api_key(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    http.post(
        SEARCH,
        json={"orders": [order(1, status="printed")]},
        match=[
            matchers.json_params_matcher(
                {"orderReferenceIds": ["1001"], "limit": SEARCH_LIMIT, "offset": 0}
            ),
            matchers.header_matcher({"X-API-KEY": GELATO_KEY, "Accept": "application/json"}),
        ],
    )

    found = gelato.find_orders("1001")

    assert found == [
        GelatoOrder(id="gelato-1", status="printed", order_type="order", reference="1001")
    ]


def test_search_pages_past_the_first_hundred_results(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    first = [order(n) for n in range(SEARCH_LIMIT)]
    second = [order(n) for n in range(SEARCH_LIMIT, SEARCH_LIMIT + 3)]
    for offset, page in ((0, first), (SEARCH_LIMIT, second)):
        http.post(
            SEARCH,
            json={"orders": page},
            match=[matchers.json_params_matcher({"offset": offset}, strict_match=False)],
        )

    found = gelato.find_orders("1001")

    assert [o.id for o in found] == [f"gelato-{n}" for n in range(SEARCH_LIMIT + 3)]
    assert len(http.calls) == 2


def test_search_ignores_orders_with_a_different_reference(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    http.post(
        SEARCH,
        json={"orders": [order(1), order(2, reference="10011"), order(3, reference="1001 ")]},
    )

    assert [o.id for o in gelato.find_orders("1001")] == ["gelato-1"]


def test_search_with_no_orders_finds_none(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    http.post(SEARCH, json={"orders": []})

    assert gelato.find_orders("1001") == []


def test_get_returns_the_order(gelato: GelatoClient, http: responses.RequestsMock) -> None:
    http.get(f"{BASE}/v4/orders/{ORDER_ID}", json={"id": ORDER_ID, "fulfillmentStatus": "passed"})

    assert gelato.get_order(ORDER_ID) == {"id": ORDER_ID, "fulfillmentStatus": "passed"}


def test_get_of_an_unknown_order_is_none(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    http.get(f"{BASE}/v4/orders/{ORDER_ID}", status=404, json={"message": "not found"})

    assert gelato.get_order(ORDER_ID) is None


@pytest.mark.parametrize(
    ("status", "answer"),
    [(200, Answer.OK), (409, Answer.CONFLICT), (404, Answer.NOT_FOUND)],
)
def test_cancel_answers(
    gelato: GelatoClient, http: responses.RequestsMock, status: int, answer: Answer
) -> None:
    http.post(
        f"{BASE}/v4/orders/{ORDER_ID}:cancel",
        status=status,
        body="",
        match=[matchers.header_matcher({"X-API-KEY": GELATO_KEY})],
    )

    assert gelato.cancel(ORDER_ID) is answer


def test_cancel_quotes_the_order_id_into_one_path_segment(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    http.post(f"{BASE}/v4/orders/a%2F..%2Fb:cancel", status=200)

    assert gelato.cancel("a/../b") is Answer.OK


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "gelato.unauthorized"), (403, "gelato.forbidden"), (400, "gelato.rejected")],
)
def test_refusals_are_permanent_errors(
    gelato: GelatoClient, http: responses.RequestsMock, status: int, reason: str
) -> None:
    http.post(f"{BASE}/v4/orders/{ORDER_ID}:cancel", status=status, json={"message": "no"})

    with pytest.raises(PermanentError) as raised:
        gelato.cancel(ORDER_ID)

    assert raised.value.reason == reason
    assert str(status) in raised.value.message


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(
    gelato: GelatoClient, http: responses.RequestsMock, status: int
) -> None:
    http.post(SEARCH, status=status, body="<html>down</html>")

    with pytest.raises(TransientError) as raised:
        gelato.find_orders("1001")

    assert raised.value.reason == "gelato.unavailable"
    assert raised.value.retry_after is None


def test_rate_limit_is_transient_with_the_retry_after(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    http.get(f"{BASE}/v4/orders/{ORDER_ID}", status=429, headers={"Retry-After": "17"})

    with pytest.raises(TransientError) as raised:
        gelato.get_order(ORDER_ID)

    assert raised.value.reason == "gelato.rate_limited"
    assert raised.value.retry_after == 17.0


@pytest.mark.parametrize(
    ("failure", "reason", "error"),
    [
        (requests.Timeout(), "gelato.timeout", "timeout"),
        (requests.ConnectionError(), "gelato.connection", "ConnectionError"),
    ],
)
def test_no_answer_is_transient_and_still_recorded(
    gelato: GelatoClient,
    http: responses.RequestsMock,
    calls: list[ApiCall],
    failure: Exception,
    reason: str,
    error: str,
) -> None:
    http.post(f"{BASE}/v4/orders/{ORDER_ID}:cancel", body=failure)

    with pytest.raises(TransientError) as raised:
        gelato.cancel(ORDER_ID)

    assert raised.value.reason == reason
    (call,) = calls
    assert (call.status, call.error, call.response_body) == (None, error, None)


def test_every_call_is_recorded_with_status_and_duration(
    gelato: GelatoClient, http: responses.RequestsMock, calls: list[ApiCall]
) -> None:
    http.post(SEARCH, json={"orders": [order(1)]})
    http.post(f"{BASE}/v4/orders/gelato-1:cancel", status=409, json={"message": "printed"})

    gelato.find_orders("1001")
    gelato.cancel("gelato-1")

    assert [(c.service, c.method, c.url, c.status) for c in calls] == [
        ("gelato", "POST", SEARCH, 200),
        ("gelato", "POST", f"{BASE}/v4/orders/gelato-1:cancel", 409),
    ]
    assert all(c.duration_ms >= 0 and c.created_at == NOW and c.error is None for c in calls)
    assert json.loads(calls[0].request_body or "")["orderReferenceIds"] == ["1001"]
    assert json.loads(calls[1].response_body or "") == {"message": "printed"}


def test_api_key_never_appears_in_a_recorded_call(
    gelato: GelatoClient, http: responses.RequestsMock, calls: list[ApiCall]
) -> None:
    echo = {"message": f"key {GELATO_KEY} is not valid", "apiKey": GELATO_KEY}
    http.post(SEARCH, status=401, json=echo)
    http.get(f"{BASE}/v4/orders/{ORDER_ID}", body=f"X-API-KEY: {GELATO_KEY}")
    http.post(f"{BASE}/v4/orders/{ORDER_ID}:cancel", body=requests.Timeout())

    with pytest.raises(PermanentError):
        gelato.find_orders("1001")
    gelato.get_order(ORDER_ID)
    with pytest.raises(TransientError):
        gelato.cancel(ORDER_ID)

    assert len(calls) == 3
    for call in calls:
        assert all(GELATO_KEY not in str(field) for field in astuple(call)), call


def test_error_message_never_carries_the_api_key(
    gelato: GelatoClient, http: responses.RequestsMock
) -> None:
    http.post(SEARCH, status=401, json={"message": f"key {GELATO_KEY} is not valid"})

    with pytest.raises(PermanentError) as raised:
        gelato.find_orders("1001")

    assert GELATO_KEY not in raised.value.message
