"""Reading store order webhook bodies into events, on the real payload shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bridge.domain.errors import PayloadError
from bridge.domain.events import OrderEvent, parse_order_event, parse_timestamp

PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "payloads"
ORDER_FILES = [
    "rest_order_after_cancel_2026-07.json",
    "rest_order_after_shipping_address_update_2026-07.json",
    "rest_order_after_note_update_2026-07.json",
    "rest_order_after_tags_update_2026-07.json",
    "python_api_fixture_order.json",
]
EST = timezone(timedelta(hours=-5))


def reference_order(name: str) -> dict[str, Any]:
    """The order object of a reference payload, unwrapped from {"order": …} as delivered."""
    path = PAYLOADS / name
    if not path.is_file():
        pytest.skip(f"reference payload {path} is not present in this checkout")
    document: dict[str, Any] = json.loads(path.read_text())
    order: dict[str, Any] = document["order"]
    return order


@pytest.mark.parametrize("name", ORDER_FILES)
def test_every_reference_order_parses(name: str) -> None:
    event = parse_order_event(reference_order(name))

    assert event.order_id == "450789469"
    assert event.name == "#1001"
    assert event.order_number == "1001"
    assert event.admin_graphql_api_id == "gid://shopify/Order/450789469"


def test_cancelled_order_carries_both_timestamps_with_their_offset() -> None:
    event = parse_order_event(reference_order("rest_order_after_cancel_2026-07.json"))

    expected = datetime(2025, 4, 2, 11, 31, 25, tzinfo=EST)
    assert event.cancelled_at == expected
    assert event.updated_at == expected
    assert event.cancelled_at is not None
    assert event.cancelled_at.utcoffset() == timedelta(hours=-5)
    assert event.cancelled_at.astimezone(UTC) == datetime(2025, 4, 2, 16, 31, 25, tzinfo=UTC)


def test_address_update_is_not_a_cancellation() -> None:
    event = parse_order_event(
        reference_order("rest_order_after_shipping_address_update_2026-07.json")
    )

    assert event.cancelled_at is None
    assert event.updated_at == datetime(2025, 4, 2, 11, 31, 27, tzinfo=EST)


def test_order_without_graphql_id_gets_one_built_from_its_id() -> None:
    order = reference_order("python_api_fixture_order.json")
    assert "admin_graphql_api_id" not in order

    assert parse_order_event(order).admin_graphql_api_id == "gid://shopify/Order/450789469"


def test_graphql_id_of_another_kind_is_replaced() -> None:
    event = parse_order_event({"id": 5, "admin_graphql_api_id": "gid://shopify/Customer/5"})

    assert event.admin_graphql_api_id == "gid://shopify/Order/5"


@pytest.mark.parametrize("order_id", [2**63 - 1, 2**64 + 17, 820982911946154508])
def test_big_64_bit_ids_are_kept_exactly(order_id: int) -> None:
    body = json.dumps({"id": order_id}).encode()

    event = parse_order_event(json.loads(body))

    assert event.order_id == str(order_id)
    assert event.admin_graphql_api_id == f"gid://shopify/Order/{order_id}"


def test_id_given_as_a_string_is_accepted() -> None:
    assert parse_order_event({"id": "820982911946154508"}).order_id == "820982911946154508"


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({}, id="absent"),
        pytest.param({"id": None}, id="null"),
        pytest.param({"id": ""}, id="empty"),
        pytest.param({"id": True}, id="true"),
        pytest.param({"id": False}, id="false"),
        pytest.param({"id": 4.5}, id="float"),
        pytest.param({"id": [1]}, id="list"),
    ],
)
def test_missing_or_unusable_id_is_a_payload_error(payload: dict[str, Any]) -> None:
    with pytest.raises(PayloadError) as raised:
        parse_order_event(payload)

    assert raised.value.reason == "payload.missing_id"


@pytest.mark.parametrize("order_id", ["abc", "12a", "-5", -5])
def test_non_numeric_id_is_a_payload_error(order_id: object) -> None:
    with pytest.raises(PayloadError) as raised:
        parse_order_event({"id": order_id})

    assert raised.value.reason == "payload.bad_id"


@pytest.mark.parametrize("payload", [[{"id": 1}], "order", 42, None])
def test_body_that_is_not_an_object_is_a_payload_error(payload: object) -> None:
    with pytest.raises(PayloadError) as raised:
        parse_order_event(payload)

    assert raised.value.reason == "payload.not_object"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T11:31:25-05:00", datetime(2026, 11, 20, 16, 31, 25, tzinfo=UTC)),
        ("2026-11-20T16:31:25Z", datetime(2026, 11, 20, 16, 31, 25, tzinfo=UTC)),
        ("2026-11-21T01:31:25+09:00", datetime(2026, 11, 20, 16, 31, 25, tzinfo=UTC)),
        ("2026-11-20T16:31:25.250+00:00", datetime(2026, 11, 20, 16, 31, 25, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_with_offsets_are_read_as_the_same_instant(
    text: str, expected: datetime
) -> None:
    parsed = parse_timestamp(text)

    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-11-20T16:31:25", 1700000000])
def test_absent_unreadable_or_naive_timestamps_are_none(value: object) -> None:
    assert parse_timestamp(value) is None
    assert parse_order_event({"id": 1, "updated_at": value}).updated_at is None


def test_order_number_that_is_a_bool_is_ignored() -> None:
    assert parse_order_event({"id": 1, "order_number": True}).order_number is None


def test_empty_name_is_none() -> None:
    assert parse_order_event({"id": 1, "name": ""}).name is None


@pytest.mark.parametrize(
    ("field", "reference"), [("id", "450789469"), ("name", "#1001"), ("order_number", "1001")]
)
def test_reference_is_the_configured_store_field(field: str, reference: str) -> None:
    event = parse_order_event(reference_order("rest_order_after_cancel_2026-07.json"))

    assert event.reference(field) == reference


def test_reference_is_none_when_the_order_lacks_that_field() -> None:
    event = parse_order_event({"id": 7})

    assert event.reference("name") is None
    assert event.reference("order_number") is None
    assert event.reference("id") == "7"


def test_events_are_frozen() -> None:
    event: OrderEvent = parse_order_event({"id": 7})

    with pytest.raises(AttributeError):
        event.order_id = "8"  # type: ignore[misc]
