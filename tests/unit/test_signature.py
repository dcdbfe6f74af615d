"""Webhook signatures: base64 HMAC-SHA256 over the raw body bytes, under current or old secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from webhooks.signature import sign, verify

SECRET = "test-webhook-secret"
PREVIOUS = "old-webhook-secret"
BODY = b'{"id": 820982911946154508, "cancelled_at": "2026-11-20T11:31:25-05:00"}'


def test_signature_made_with_the_current_secret_is_accepted() -> None:
    assert verify(BODY, sign(BODY, SECRET), [SECRET, PREVIOUS])


def test_signature_made_with_previous_secret_is_accepted() -> None:
    assert verify(BODY, sign(BODY, PREVIOUS), [SECRET, PREVIOUS])


def test_signature_made_with_previous_secret_is_rejected_once_it_is_dropped() -> None:
    assert not verify(BODY, sign(BODY, PREVIOUS), [SECRET])


def test_signature_made_with_a_wrong_secret_is_rejected() -> None:
    assert not verify(BODY, sign(BODY, "someone-elses-secret"), [SECRET, PREVIOUS])


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_rejected(signature: str | None) -> None:
    assert not verify(BODY, signature, [SECRET])


def test_empty_body_signed_correctly_is_valid() -> None:
    assert verify(b"", sign(b"", SECRET), [SECRET])


def test_empty_secrets_never_accept_a_signature_made_with_an_empty_key() -> None:
    assert not verify(BODY, sign(BODY, ""), ["", ""])


@pytest.mark.parametrize(
    "garbage",
    ["not base64 at all!", "%%%%", "abc", "é" * 44, "gi+8JJsd/TbFZuqMYxpCiYo2b3YEAeqeF4fKRNRF+0o"],
)
def test_non_base64_garbage_is_rejected_without_raising(garbage: str) -> None:
    assert not verify(BODY, garbage, [SECRET])


def test_signature_of_a_different_body_is_rejected() -> None:
    assert not verify(BODY + b" ", sign(BODY, SECRET), [SECRET])


def test_signature_over_a_reserialised_body_is_rejected() -> None:
    reserialised = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert reserialised != BODY

    assert not verify(BODY, sign(reserialised, SECRET), [SECRET])
    assert not verify(reserialised, sign(BODY, SECRET), [SECRET])


def test_signature_with_surrounding_whitespace_is_accepted() -> None:
    assert verify(BODY, f" {sign(BODY, SECRET)}\n", [SECRET])


def test_sign_is_base64_of_hmac_sha256_over_the_raw_bytes() -> None:
    expected = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()

    assert sign(BODY, SECRET) == expected
    assert verify(BODY, expected, [SECRET])


def test_sign_matches_the_published_hmac_sha256_vector() -> None:
    # HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog") is
    # f7bc83f4…2d1a3cd8 (the widely published example), here in base64.
    body = b"The quick brown fox jumps over the lazy dog"
    vector = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="

    assert sign(body, "key") == vector
    assert verify(body, vector, ["other", "key"])


def test_sign_is_over_bytes_so_non_ascii_secrets_and_bodies_work() -> None:
    body = "Zürich ✓".encode()
    expected = base64.b64encode(hmac.new("sécret".encode(), body, hashlib.sha256).digest())

    assert sign(body, "sécret") == expected.decode()
