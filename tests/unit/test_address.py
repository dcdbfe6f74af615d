"""Shipping addresses: store fields to Gelato's, fingerprints, and Gelato's limits."""

from __future__ import annotations

import pytest

from bridge.domain.address import Address, check_for_gelato, from_gelato, read_shipping_address
from bridge.domain.errors import PayloadError, PermanentError
from bridge.domain.outcomes import Outcome, Part, aggregate_address

STORE = {
    "first_name": "Bob",
    "last_name": "Norman",
    "company": None,
    "address1": "Chestnut Street 92",
    "address2": "",
    "city": "Louisville",
    "zip": "40202",
    "province": "Kentucky",
    "province_code": "KY",
    "country": "United States",
    "country_code": "US",
    "phone": "+1(502)-459-2181",
    "latitude": 45.41634,
}


def order(**address: object) -> dict[str, object]:
    return {"email": "bob@example.com", "shipping_address": {**STORE, **address}}


def test_store_fields_map_to_gelato_fields() -> None:
    address = read_shipping_address(order())

    assert address.as_gelato() == {
        "firstName": "Bob",
        "lastName": "Norman",
        "addressLine1": "Chestnut Street 92",
        "city": "Louisville",
        "postCode": "40202",
        "state": "KY",
        "country": "US",
        "phone": "+1(502)-459-2181",
        "email": "bob@example.com",
    }


def test_fingerprint_ignores_case_spacing_and_email() -> None:
    plain = read_shipping_address(order())
    typed = read_shipping_address(
        {**order(address1="  chestnut   STREET 92 ", city="LOUISVILLE"), "email": "x@y.z"}
    )

    assert plain.fingerprint() == typed.fingerprint()


@pytest.mark.parametrize(
    "change",
    [{"address1": "123 Ship Street"}, {"zip": "40203"}, {"country_code": "CA"}, {"phone": "1"}],
)
def test_fingerprint_changes_with_any_address_field(change: dict[str, str]) -> None:
    assert read_shipping_address(order()).fingerprint() != (
        read_shipping_address(order(**change)).fingerprint()
    )


def test_fingerprint_does_not_depend_on_coordinates() -> None:
    moved = read_shipping_address(order(latitude=1.0))

    assert moved.fingerprint() == read_shipping_address(order()).fingerprint()


def test_missing_address_is_a_payload_error() -> None:
    with pytest.raises(PayloadError) as raised:
        read_shipping_address({"email": "bob@example.com"})

    assert raised.value.reason == "address.missing"


def test_redacted_address_is_a_payload_error() -> None:
    blanked = {key: "" for key in STORE}

    with pytest.raises(PayloadError) as raised:
        read_shipping_address({"shipping_address": blanked})

    assert raised.value.reason == "address.redacted"


def test_gelato_address_reads_back_to_the_same_fingerprint() -> None:
    address = read_shipping_address(order())

    assert from_gelato(address.as_gelato()).fingerprint() == address.fingerprint()


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("addressLine1", "x" * 36, "addressLine1 is longer than 35 characters"),
        ("firstName", "x" * 26, "firstName is longer than 25 characters"),
        ("city", "x" * 31, "city is longer than 30 characters"),
        ("postCode", "", "postCode is missing"),
        ("email", "", "email is missing"),
    ],
)
def test_address_gelato_would_reject_is_refused_with_the_reason(
    field: str, value: str, problem: str
) -> None:
    address = from_gelato({**read_shipping_address(order()).as_gelato(), field: value})

    with pytest.raises(PermanentError) as raised:
        check_for_gelato(address)

    assert raised.value.reason == "address.invalid"
    assert problem in raised.value.message


def test_acceptable_address_passes_the_check() -> None:
    check_for_gelato(read_shipping_address(order()))


def test_empty_address_lists_every_required_field() -> None:
    assert len(Address().problems()) == 7


@pytest.mark.parametrize(
    ("parts", "outcome"),
    [
        ([], Outcome.NOT_FOUND),
        ([Part.REISSUED], Outcome.ADDRESS_UPDATED),
        ([Part.ALREADY_AT_ADDRESS], Outcome.ADDRESS_UPDATED),
        ([Part.REISSUED, Part.ALREADY_CANCELLED], Outcome.ADDRESS_UPDATED),
        ([Part.TOO_LATE], Outcome.TOO_LATE),
        ([Part.REISSUED, Part.TOO_LATE], Outcome.PARTIALLY_UPDATED),
        ([Part.REISSUED, Part.FAILED], Outcome.NEEDS_ATTENTION),
        ([Part.ALREADY_CANCELLED], Outcome.ALREADY_CANCELLED),
        ([Part.WOULD_REISSUE, Part.TOO_LATE], Outcome.PARTIALLY_UPDATED),
    ],
)
def test_address_parts_add_up_to_one_outcome(parts: list[Part], outcome: Outcome) -> None:
    assert aggregate_address(parts) is outcome
