"""Redaction of API bodies before they are kept: secret fields, known secret values, size."""

from __future__ import annotations

import json

import pytest

from bridge.adapters.redaction import BODY_LIMIT, REDACTED, redact_body

KEY = "gelato-test-key-0123456789"


@pytest.mark.parametrize(
    "field",
    [
        "api_key",
        "apiKey",
        "API-KEY",
        "access_token",
        "accessToken",
        "password",
        "client_secret",
        "Authorization",
        "access_key",
        "X-Shopify-Access-Token",
    ],
)
def test_secret_looking_field_is_masked(field: str) -> None:
    body = json.dumps({field: "hunter2", "orderReferenceId": "1001"})

    redacted = redact_body(body)

    assert redacted is not None
    assert json.loads(redacted) == {field: REDACTED, "orderReferenceId": "1001"}


def test_secret_fields_are_masked_at_any_depth_and_inside_lists() -> None:
    body = {
        "shop": {"credentials": {"api_key": "k1", "nested": [{"password": "p1", "ok": 1}]}},
        "items": [{"access_token": "t1", "sku": "A"}, {"sku": "B"}],
    }

    redacted = redact_body(json.dumps(body).encode())

    assert redacted is not None
    assert json.loads(redacted) == {
        "shop": {"credentials": {"api_key": REDACTED, "nested": [{"password": REDACTED, "ok": 1}]}},
        "items": [{"access_token": REDACTED, "sku": "A"}, {"sku": "B"}],
    }
    for value in ("k1", "p1", "t1"):
        assert value not in redacted


def test_a_secret_field_holding_an_object_is_masked_whole() -> None:
    redacted = redact_body(json.dumps({"token": {"value": "t1", "expires": 3}}))

    assert redacted is not None
    assert json.loads(redacted) == {"token": REDACTED}


def test_known_secret_value_is_masked_in_non_json_text() -> None:
    text = f"401 Unauthorized: key {KEY} is not valid <html>"

    redacted = redact_body(text, [KEY])

    assert redacted == f"401 Unauthorized: key {REDACTED} is not valid <html>"


def test_known_secret_value_is_masked_in_json_under_an_innocent_field() -> None:
    redacted = redact_body(json.dumps({"message": f"bad key {KEY}"}), [KEY])

    assert redacted is not None
    assert KEY not in redacted
    assert json.loads(redacted) == {"message": f"bad key {REDACTED}"}


def test_known_secret_value_is_masked_in_bytes_bodies() -> None:
    redacted = redact_body(f"key={KEY}&x=1".encode(), [KEY])

    assert redacted == f"key={REDACTED}&x=1"


def test_empty_secret_values_mask_nothing() -> None:
    assert redact_body("plain text", ["", ""]) == "plain text"


def test_body_without_secrets_is_kept_as_it_reads() -> None:
    body = {"orders": [{"id": "37365096", "fulfillmentStatus": "passed", "city": "Zürich"}]}

    redacted = redact_body(json.dumps(body))

    assert redacted is not None
    assert json.loads(redacted) == body
    assert "Zürich" in redacted


def test_no_body_stays_none() -> None:
    assert redact_body(None, [KEY]) is None


def test_undecodable_bytes_are_kept_with_replacement_characters() -> None:
    assert redact_body(b"ok \xff\xfe end") == "ok \ufffd\ufffd end"


def test_long_body_is_truncated_with_a_marker_saying_how_much_was_cut() -> None:
    text = "x" * (BODY_LIMIT + 250)

    redacted = redact_body(text)

    assert redacted == "x" * BODY_LIMIT + "…[truncated 250 characters]"


def test_body_at_the_limit_is_not_truncated() -> None:
    text = "y" * BODY_LIMIT

    assert redact_body(text) == text


def test_secret_straddling_the_truncation_point_is_masked_before_cutting() -> None:
    text = "z" * (BODY_LIMIT - 5) + KEY + "tail"

    redacted = redact_body(text, [KEY])

    assert redacted is not None
    assert KEY[:5] not in redacted
    assert "truncated" in redacted
