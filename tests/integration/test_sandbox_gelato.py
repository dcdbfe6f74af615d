"""The Gelato sandbox answers like the v4 order API over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bridge.sandbox import GelatoSandbox, serve_in_thread
from bridge.sandbox.gelato_orders import CANCELLABLE, PAST_CUT_OFF, PRINTED_MESSAGE
from bridge.sandbox.server import RunningServer

API_KEY = "sandbox-test-key"
ADDRESS = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "addressLine1": "1 Main St",
    "city": "Springfield",
    "postCode": "12345",
    "country": "US",
    "email": "ada@example.com",
}
SUMMARY_KEYS = {
    "channel",
    "connectedOrderIds",
    "country",
    "createdAt",
    "currency",
    "customerReferenceId",
    "financialStatus",
    "firstName",
    "fulfillmentStatus",
    "id",
    "itemsCount",
    "lastName",
    "orderReferenceId",
    "orderType",
    "orderedAt",
    "storeId",
    "totalInclVat",
    "updatedAt",
}


class Gelato:
    """Test client speaking to one running Gelato sandbox."""

    def __init__(self, url: str, session: requests.Session) -> None:
        self.url = url
        self.session = session

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-API-KEY": API_KEY, **kwargs.pop("headers", {})}
        return self.session.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, self.url + path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def seed(self, reference: str = "1001", **fields: Any) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.control(
            "POST", "/_sandbox/orders", {"orderReferenceId": reference, **fields}
        )["orders"]
        return orders

    def status_of(self, order_id: str) -> str:
        status: str = self.api("GET", f"/v4/orders/{order_id}").json()["fulfillmentStatus"]
        return status


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "orderType": "order",
        "orderReferenceId": "2001",
        "customerReferenceId": "c-1",
        "currency": "USD",
        "items": [{"itemReferenceId": "i-1", "productUid": "poster_a4", "quantity": 2}],
        "shipmentMethodUid": "express",
        "shippingAddress": dict(ADDRESS),
        "metadata": [{"key": "storeOrder", "value": "gid://shopify/Order/1"}],
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(GelatoSandbox(api_key=API_KEY)) as running:
        yield running


@pytest.fixture
def gelato(server: RunningServer) -> Iterator[Gelato]:
    with requests.Session() as session:
        client = Gelato(server.url, session)
        client.control("POST", "/_sandbox/reset")
        yield client


@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "wrong"}])
def test_request_without_the_right_api_key_answers_401(
    gelato: Gelato, headers: dict[str, str]
) -> None:
    response = gelato.session.post(gelato.url + "/v4/orders:search", json={}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "No valid API key provided."}


def test_search_by_order_reference_ids_returns_every_part_of_a_split_order(
    gelato: Gelato,
) -> None:
    parts = gelato.seed("1001", parts=3)
    gelato.seed("other")
    response = gelato.api("POST", "/v4/orders:search", json={"orderReferenceIds": ["1001"]})
    assert response.status_code == 200
    found = response.json()["orders"]
    assert {order["id"] for order in found} == {order["id"] for order in parts}
    assert all(set(order) == SUMMARY_KEYS for order in found)
    for order in found:
        others = {part["id"] for part in parts} - {order["id"]}
        assert set(order["connectedOrderIds"]) == others
    assert [o["id"] for o in found] == sorted(o["id"] for o in found)


def test_search_pages_with_limit_and_offset(gelato: Gelato) -> None:
    gelato.seed("1001", parts=3)
    first = gelato.api("POST", "/v4/orders:search", json={"limit": 2}).json()["orders"]
    rest = gelato.api("POST", "/v4/orders:search", json={"limit": 2, "offset": 2}).json()
    assert len(first) == 2
    assert len(rest["orders"]) == 1
    assert rest["orders"][0]["id"] not in {order["id"] for order in first}


def test_search_limit_above_100_answers_400(gelato: Gelato) -> None:
    response = gelato.api("POST", "/v4/orders:search", json={"limit": 101})
    assert response.status_code == 400
    assert "limit" in response.json()["message"]


def test_search_filters_by_order_type_and_status(gelato: Gelato) -> None:
    gelato.seed("1001", status="printed")
    gelato.seed("1002", status="draft")
    body = {"orderTypes": ["order"], "fulfillmentStatuses": ["printed"]}
    found = gelato.api("POST", "/v4/orders:search", json=body).json()["orders"]
    assert [order["orderReferenceId"] for order in found] == ["1001"]


def test_get_of_unknown_order_answers_404(gelato: Gelato) -> None:
    response = gelato.api("GET", "/v4/orders/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"message": "Order not found."}


def test_get_returns_the_full_order(gelato: Gelato) -> None:
    (seeded,) = gelato.seed("1001", status="passed")
    order = gelato.api("GET", f"/v4/orders/{seeded['id']}").json()
    assert order["orderReferenceId"] == "1001"
    assert order["items"][0]["fulfillmentStatus"] == "passed"
    assert order["shippingAddress"]["orderId"] == seeded["id"]
    assert order["receipts"] == []
    assert order["connectedOrderIds"] == []


@pytest.mark.parametrize("status", sorted(CANCELLABLE))
def test_cancel_of_order_before_production_answers_200_and_cancels_it(
    gelato: Gelato, status: str
) -> None:
    (seeded,) = gelato.seed(status=status)
    response = gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel")
    assert response.status_code == 200
    assert response.json() == {}
    order = gelato.api("GET", f"/v4/orders/{seeded['id']}").json()
    assert order["fulfillmentStatus"] == "canceled"
    assert order["financialStatus"] == "canceled"
    assert {item["fulfillmentStatus"] for item in order["items"]} == {"canceled"}


@pytest.mark.parametrize("status", sorted(PAST_CUT_OFF))
def test_cancel_of_order_past_the_production_cut_off_answers_409(
    gelato: Gelato, status: str
) -> None:
    (seeded,) = gelato.seed(status=status)
    response = gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel")
    assert response.status_code == 409
    assert response.json() == {"message": PRINTED_MESSAGE}
    assert gelato.status_of(seeded["id"]) == status


def test_cancel_of_failed_order_answers_409(gelato: Gelato) -> None:
    (seeded,) = gelato.seed(status="failed")
    assert gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel").status_code == 409


def test_repeat_cancel_answers_200_again(gelato: Gelato) -> None:
    (seeded,) = gelato.seed()
    assert gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel").status_code == 200
    again = gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel")
    assert again.status_code == 200
    assert again.json() == {}


def test_cancel_of_unknown_order_answers_404(gelato: Gelato) -> None:
    response = gelato.api("POST", "/v4/orders/00000000-0000-4000-8000-000000000000:cancel")
    assert response.status_code == 404
    assert response.json() == {"message": "Order not found."}


def test_cancel_of_draft_answers_409(gelato: Gelato) -> None:
    (draft,) = gelato.seed(status="draft")
    assert gelato.api("POST", f"/v4/orders/{draft['id']}:cancel").status_code == 409


def test_cancel_of_split_order_can_succeed_for_one_part_only(gelato: Gelato) -> None:
    passed, printed = gelato.seed("1001", parts=2, statuses=["passed", "printed"])
    assert gelato.api("POST", f"/v4/orders/{passed['id']}:cancel").status_code == 200
    assert gelato.api("POST", f"/v4/orders/{printed['id']}:cancel").status_code == 409
    assert gelato.status_of(printed["id"]) == "printed"


def test_queued_503_answers_count_times_without_effect_then_the_call_succeeds(
    gelato: Gelato,
) -> None:
    (seeded,) = gelato.seed()
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "cancel", "status": 503, "count": 2})
    path = f"/v4/orders/{seeded['id']}:cancel"
    assert [gelato.api("POST", path).status_code for _ in range(2)] == [503, 503]
    assert gelato.status_of(seeded["id"]) == "passed"
    assert gelato.api("POST", path).status_code == 200
    assert gelato.status_of(seeded["id"]) == "canceled"


def test_429_fault_sends_retry_after_header(gelato: Gelato) -> None:
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "*", "status": 429, "retry_after": 2})
    response = gelato.api("POST", "/v4/orders:search", json={})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert "message" in response.json()


def test_fault_applies_only_to_its_endpoint(gelato: Gelato) -> None:
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "get", "status": 500})
    assert gelato.api("POST", "/v4/orders:search", json={}).status_code == 200
    assert gelato.api("GET", "/v4/orders/unknown").status_code == 500
    assert gelato.api("GET", "/v4/orders/unknown").status_code == 404


def test_delay_fault_slows_the_answer(gelato: Gelato) -> None:
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "search", "delay": 0.3})
    started = time.monotonic()
    response = gelato.api("POST", "/v4/orders:search", json={})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_base_latency_delays_every_request(gelato: Gelato) -> None:
    gelato.control("POST", "/_sandbox/latency", {"seconds": 0.2})
    started = time.monotonic()
    gelato.api("POST", "/v4/orders:search", json={})
    gelato.api("POST", "/v4/orders:search", json={})
    assert time.monotonic() - started >= 0.4


def test_timeout_fault_makes_the_client_time_out_but_the_cancel_happens(gelato: Gelato) -> None:
    (seeded,) = gelato.seed()
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "cancel", "timeout": 0.5})
    with pytest.raises(requests.Timeout):
        gelato.session.post(
            f"{gelato.url}/v4/orders/{seeded['id']}:cancel",
            headers={"X-API-KEY": API_KEY},
            timeout=0.1,
        )
    assert gelato.status_of(seeded["id"]) == "canceled"


def test_seeded_fault_rates_repeat_the_same_faults(gelato: Gelato) -> None:
    rates = {"5xx": 0.4, "429": 0.2, "retry_after": 1, "seed": 7}

    def run() -> list[int]:
        gelato.control("POST", "/_sandbox/fault-rates", rates)
        return [gelato.api("GET", "/v4/orders/none").status_code for _ in range(30)]

    first = run()
    assert first == run()
    assert 404 in first
    assert 429 in first
    assert {500, 502, 503} & set(first)


def test_request_log_names_each_fault_and_the_retry_after_it_carried(gelato: Gelato) -> None:
    (seeded,) = gelato.seed()
    started = time.time()
    gelato.control("POST", "/_sandbox/faults", {"status": 429, "retry_after": 2})
    gelato.control("POST", "/_sandbox/faults", {"status": 503})
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "cancel", "timeout": 0.2})
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "get", "delay": 0.1})
    gelato.api("POST", "/v4/orders:search", json={})
    gelato.api("POST", "/v4/orders:search", json={})
    gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel")
    gelato.api("GET", f"/v4/orders/{seeded['id']}")
    gelato.api("GET", f"/v4/orders/{seeded['id']}")
    # An earlier test's timed-out call may be logged late, when its answer finally leaves.
    log = [e for e in gelato.control("GET", "/_sandbox/requests") if e["at"] >= started]
    assert [(e["status"], e["fault"], e["retry_after"], e["performed"]) for e in log] == [
        (429, "429", 2, None),
        (503, "5xx", None, None),
        (504, "timeout", None, 200),
        (200, "delay", None, 200),
        (200, None, None, 200),
    ]
    assert log[2]["answered"] - log[2]["at"] >= 0.2
    assert all(e["answered"] >= e["at"] for e in log)


def test_request_log_names_the_store_order_each_call_was_about(gelato: Gelato) -> None:
    (seeded,) = gelato.seed(reference="77")
    started = time.time()
    draft = gelato.api("POST", "/v4/orders", json=create_body(orderType="draft")).json()
    gelato.api("POST", "/v4/orders:search", json={"orderReferenceIds": ["77"]})
    gelato.api("POST", "/v4/orders:search", json={"orderReferenceIds": ["77", "2001"]})
    gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel")
    gelato.api("DELETE", f"/v4/orders/{draft['id']}")
    gelato.api("GET", f"/v4/orders/{draft['id']}")
    gelato.api("GET", "/v4/orders/unknown")
    log = [e for e in gelato.control("GET", "/_sandbox/requests") if e["at"] >= started]
    assert [(e["endpoint"], e["reference"]) for e in log] == [
        ("create", "2001"),
        ("search", "77"),
        ("search", None),
        ("cancel", "77"),
        ("delete", "2001"),
        ("get", "2001"),
        ("get", None),
    ]


def test_fault_rates_send_retry_after_with_429_and_with_5xx_only_if_asked(
    gelato: Gelato,
) -> None:
    started = time.time()
    gelato.control("POST", "/_sandbox/fault-rates", {"5xx": 0.5, "429": 0.5, "retry_after": 3})
    for _ in range(20):
        gelato.api("POST", "/v4/orders:search", json={})
    rates = {"5xx": 1.0, "retry_after": 3, "5xx_retry_after": 1}
    gelato.control("POST", "/_sandbox/fault-rates", rates)
    gelato.api("POST", "/v4/orders:search", json={})
    log = [e for e in gelato.control("GET", "/_sandbox/requests") if e["at"] >= started]
    assert {(e["fault"], e["retry_after"]) for e in log[:20]} == {("429", 3), ("5xx", None)}
    assert (log[20]["fault"], log[20]["retry_after"]) == ("5xx", 1)


def test_status_on_cancel_makes_the_next_cancel_meet_a_printed_order(gelato: Gelato) -> None:
    (seeded,) = gelato.seed(status="passed")
    gelato.control(
        "POST", f"/_sandbox/orders/{seeded['id']}/status-on-cancel", {"status": "printed"}
    )
    assert gelato.status_of(seeded["id"]) == "passed"
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "cancel", "status": 503})
    cancel = f"/v4/orders/{seeded['id']}:cancel"
    # A refused cancel never reached the order book: the order is still passed.
    assert gelato.api("POST", cancel).status_code == 503
    assert gelato.status_of(seeded["id"]) == "passed"
    answer = gelato.api("POST", cancel)
    assert (answer.status_code, answer.json()["message"]) == (409, PRINTED_MESSAGE)
    assert gelato.status_of(seeded["id"]) == "printed"


def test_status_on_cancel_moves_the_order_under_a_timed_out_cancel(gelato: Gelato) -> None:
    (seeded,) = gelato.seed(status="passed")
    gelato.control(
        "POST", f"/_sandbox/orders/{seeded['id']}/status-on-cancel", {"status": "printed"}
    )
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "cancel", "timeout": 0})
    assert gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel").status_code == 504
    assert gelato.status_of(seeded["id"]) == "printed"
    log = gelato.control("GET", "/_sandbox/requests")
    cancel = [e for e in log if e["path"] == f"/v4/orders/{seeded['id']}:cancel"]
    assert [(e["status"], e["performed"]) for e in cancel] == [(504, 409)]


def test_status_on_cancel_of_a_draft_answers_409(gelato: Gelato) -> None:
    (draft,) = gelato.seed(status="draft")
    response = gelato.session.post(
        f"{gelato.url}/_sandbox/orders/{draft['id']}/status-on-cancel",
        json={"status": "printed"},
        timeout=10,
    )
    assert response.status_code == 409


def test_status_after_moves_the_order_to_printed_between_retries(gelato: Gelato) -> None:
    (seeded,) = gelato.seed(status="passed")
    schedule = {"status": "printed", "after_requests": 1}
    gelato.control("POST", f"/_sandbox/orders/{seeded['id']}/status-after", schedule)
    gelato.control("POST", "/_sandbox/faults", {"endpoint": "cancel", "status": 503})
    cancel = f"/v4/orders/{seeded['id']}:cancel"
    assert gelato.api("POST", cancel).status_code == 503
    assert gelato.api("POST", cancel).status_code == 409
    assert gelato.status_of(seeded["id"]) == "printed"


def test_status_after_does_not_print_an_order_canceled_meanwhile(gelato: Gelato) -> None:
    (seeded,) = gelato.seed(status="passed")
    schedule = {"status": "printed", "after_requests": 2}
    gelato.control("POST", f"/_sandbox/orders/{seeded['id']}/status-after", schedule)
    assert gelato.api("POST", f"/v4/orders/{seeded['id']}:cancel").status_code == 200
    assert gelato.status_of(seeded["id"]) == "canceled"
    assert gelato.status_of(seeded["id"]) == "canceled"


def test_control_status_moves_order_and_items(gelato: Gelato) -> None:
    (seeded,) = gelato.seed(status="passed")
    moved = gelato.control("POST", f"/_sandbox/orders/{seeded['id']}/status", {"status": "shipped"})
    assert moved["fulfillmentStatus"] == "shipped"
    assert {item["fulfillmentStatus"] for item in moved["items"]} == {"shipped"}


def test_request_log_records_each_v4_call(gelato: Gelato) -> None:
    gelato.api("POST", "/v4/orders:search", json={"orderReferenceIds": ["9"]})
    gelato.api("GET", "/v4/orders/missing")
    log = gelato.control("GET", "/_sandbox/requests")
    assert [(e["method"], e["endpoint"], e["status"]) for e in log] == [
        ("POST", "search", 200),
        ("GET", "get", 404),
    ]
    assert log[0]["path"] == "/v4/orders:search"
    assert log[0]["body"] == {"orderReferenceIds": ["9"]}
    assert isinstance(log[0]["at"], float)


def test_create_order_starts_created_with_the_given_fields(gelato: Gelato) -> None:
    response = gelato.api("POST", "/v4/orders", json=create_body())
    assert response.status_code == 200
    order = response.json()
    assert (order["orderType"], order["fulfillmentStatus"]) == ("order", "created")
    assert order["shipment"]["shipmentMethodUid"] == "express"
    assert order["metadata"] == [{"key": "storeOrder", "value": "gid://shopify/Order/1"}]
    assert order["items"][0]["quantity"] == 2
    assert gelato.status_of(order["id"]) == "created"


def test_create_draft_has_draft_statuses(gelato: Gelato) -> None:
    order = gelato.api("POST", "/v4/orders", json=create_body(orderType="draft")).json()
    assert (order["fulfillmentStatus"], order["financialStatus"]) == ("draft", "draft")
    assert order["orderedAt"] is None


@pytest.mark.parametrize(
    "field", ["orderReferenceId", "customerReferenceId", "currency", "items", "shippingAddress"]
)
def test_create_without_a_required_field_answers_400_naming_it(gelato: Gelato, field: str) -> None:
    body = create_body()
    del body[field]
    response = gelato.api("POST", "/v4/orders", json=body)
    assert response.status_code == 400
    assert field in response.json()["message"]


@pytest.mark.parametrize(
    "field", ["firstName", "lastName", "addressLine1", "city", "postCode", "country", "email"]
)
def test_create_without_a_required_address_field_answers_400_naming_it(
    gelato: Gelato, field: str
) -> None:
    address = {k: v for k, v in ADDRESS.items() if k != field}
    response = gelato.api("POST", "/v4/orders", json=create_body(shippingAddress=address))
    assert response.status_code == 400
    assert f"shippingAddress.{field}" in response.json()["message"]


@pytest.mark.parametrize(
    "metadata",
    [
        [{"key": f"k{n}", "value": "v"} for n in range(21)],
        [{"key": "k", "value": "v" * 101}],
        [{"key": "k" * 101, "value": "v"}],
    ],
)
def test_create_with_metadata_over_the_limits_answers_400(
    gelato: Gelato, metadata: list[dict[str, str]]
) -> None:
    response = gelato.api("POST", "/v4/orders", json=create_body(metadata=metadata))
    assert response.status_code == 400
    assert "metadata" in response.json()["message"]


def test_create_with_empty_items_answers_400(gelato: Gelato) -> None:
    response = gelato.api("POST", "/v4/orders", json=create_body(items=[]))
    assert response.status_code == 400
    assert "items" in response.json()["message"]


def test_patch_converts_a_draft_into_a_created_order(gelato: Gelato) -> None:
    draft = gelato.api("POST", "/v4/orders", json=create_body(orderType="draft")).json()
    response = gelato.api("PATCH", f"/v4/orders/{draft['id']}", json={"orderType": "order"})
    assert response.status_code == 200
    order = response.json()
    assert (order["orderType"], order["fulfillmentStatus"]) == ("order", "created")
    assert order["orderedAt"] is not None


def test_patch_of_a_regular_order_answers_409(gelato: Gelato) -> None:
    (seeded,) = gelato.seed()
    response = gelato.api("PATCH", f"/v4/orders/{seeded['id']}", json={"orderType": "order"})
    assert response.status_code == 409
    assert "draft" in response.json()["message"]


def test_patch_of_unknown_order_answers_404(gelato: Gelato) -> None:
    response = gelato.api("PATCH", "/v4/orders/missing", json={"orderType": "order"})
    assert response.status_code == 404


def test_patch_without_order_type_order_answers_400(gelato: Gelato) -> None:
    (draft,) = gelato.seed(status="draft")
    response = gelato.api("PATCH", f"/v4/orders/{draft['id']}", json={"orderType": "draft"})
    assert response.status_code == 400
    assert "orderType" in response.json()["message"]


def test_delete_of_a_draft_answers_200_and_removes_it(gelato: Gelato) -> None:
    (draft,) = gelato.seed(status="draft")
    response = gelato.api("DELETE", f"/v4/orders/{draft['id']}")
    assert response.status_code == 200
    assert response.json() == {}
    assert gelato.api("GET", f"/v4/orders/{draft['id']}").status_code == 404


def test_delete_of_a_regular_order_answers_409(gelato: Gelato) -> None:
    (seeded,) = gelato.seed()
    assert gelato.api("DELETE", f"/v4/orders/{seeded['id']}").status_code == 409
    assert gelato.status_of(seeded["id"]) == "passed"


def test_delete_of_unknown_order_answers_404(gelato: Gelato) -> None:
    assert gelato.api("DELETE", "/v4/orders/missing").status_code == 404


def test_control_orders_lists_canceled_orders_and_drafts_by_reference(gelato: Gelato) -> None:
    first, second = gelato.seed("1001", parts=2, statuses=["canceled", "draft"])
    gelato.seed("1002")
    listed = gelato.control("GET", "/_sandbox/orders?orderReferenceId=1001")["orders"]
    assert {order["id"] for order in listed} == {first["id"], second["id"]}


def test_reset_forgets_orders_and_requests(gelato: Gelato) -> None:
    gelato.seed()
    gelato.api("POST", "/v4/orders:search", json={})
    gelato.control("POST", "/_sandbox/reset")
    assert gelato.control("GET", "/_sandbox/orders") == {"orders": []}
    assert gelato.control("GET", "/_sandbox/requests") == []


def test_unknown_v4_path_answers_json_404(gelato: Gelato) -> None:
    response = gelato.api("GET", "/v4/products")
    assert response.status_code == 404
    assert "message" in response.json()
