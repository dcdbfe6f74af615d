"""OAuth query signatures: the store's rule (sorted, escaped, hex HMAC-SHA256), known vectors."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from bridge.domain.query_signature import (
    QueryProblem,
    check_timestamp,
    sign_query,
    signed_message,
    verify_query,
)

# reference/shopify.md §3.2, checked there by computation.
REFERENCE_SECRET = "hush"
REFERENCE_QUERY = (
    "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com"
    "&state=0.6784241404160823&timestamp=1337178173"
)
REFERENCE_HMAC = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
# Computed independently of this code base, with
#   printf '%s' 'code=a1b2c3&host=YWRt…&shop=my-shop.myshopify.com&state=f00dfeed&timestamp=…' \
#     | openssl dgst -sha256 -hmac 'shpss_example_secret'
OWN_SECRET = "shpss_example_secret"
OWN_PARAMS = {
    "code": "a1b2c3",
    "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvbXktc2hvcA",
    "shop": "my-shop.myshopify.com",
    "state": "f00dfeed",
    "timestamp": "1764000000",
}
OWN_HMAC = "131340302bcabd62cc1cb21fb2d2feb586f35aaeff7fcee3df117e95a49755c6"


def query(text: str) -> dict[str, list[str]]:
    return parse_qs(text, keep_blank_values=True)


def params(**values: str) -> dict[str, list[str]]:
    return {key: [value] for key, value in values.items()}


def test_reference_vector_is_signed_as_the_store_signs_it() -> None:
    assert sign_query(query(REFERENCE_QUERY), REFERENCE_SECRET) == REFERENCE_HMAC


def test_independently_computed_vector_verifies() -> None:
    verify_query(params(**OWN_PARAMS, hmac=OWN_HMAC), [OWN_SECRET])


def test_parameters_in_any_order_verify_because_the_store_signs_them_sorted() -> None:
    pairs = [f"{key}={value}" for key, value in sorted(OWN_PARAMS.items(), reverse=True)]
    reordered = query(f"hmac={OWN_HMAC}&" + "&".join(pairs))

    assert list(reordered)[1:] == sorted(OWN_PARAMS, reverse=True)
    verify_query(reordered, [OWN_SECRET])


def test_hmac_computed_over_the_parameters_unsorted_is_rejected() -> None:
    unsorted = "timestamp=1764000000&shop=my-shop.myshopify.com&state=f00dfeed&code=a1b2c3"
    digest = hmac.new(OWN_SECRET.encode(), unsorted.encode(), hashlib.sha256).hexdigest()
    given = {key: OWN_PARAMS[key] for key in ("timestamp", "shop", "state", "code")}

    with pytest.raises(QueryProblem) as raised:
        verify_query(params(**given, hmac=digest), [OWN_SECRET])
    assert raised.value.reason == "oauth.bad_hmac"


@pytest.mark.parametrize(
    ("name", "value"),
    [("shop", "evil.myshopify.com"), ("code", "a1b2c4"), ("timestamp", "1764000001")],
)
def test_any_changed_parameter_breaks_the_signature(name: str, value: str) -> None:
    changed = {**OWN_PARAMS, name: value}

    with pytest.raises(QueryProblem, match=r"oauth\.bad_hmac"):
        verify_query(params(**changed, hmac=OWN_HMAC), [OWN_SECRET])


def test_an_added_parameter_breaks_the_signature() -> None:
    with pytest.raises(QueryProblem, match=r"oauth\.bad_hmac"):
        verify_query(params(**OWN_PARAMS, extra="1", hmac=OWN_HMAC), [OWN_SECRET])


def test_signature_under_another_secret_is_rejected() -> None:
    with pytest.raises(QueryProblem, match=r"oauth\.bad_hmac"):
        verify_query(params(**OWN_PARAMS, hmac=OWN_HMAC), ["another-secret"])


def test_signature_under_the_previous_secret_is_accepted_during_a_rotation() -> None:
    verify_query(params(**OWN_PARAMS, hmac=OWN_HMAC), ["new-secret", OWN_SECRET])


def test_upper_case_hex_is_the_same_signature() -> None:
    verify_query(params(**OWN_PARAMS, hmac=OWN_HMAC.upper()), [OWN_SECRET])


@pytest.mark.parametrize("given", [None, "", "é" * 64, "zz"])
def test_missing_or_garbled_hmac_is_rejected(given: str | None) -> None:
    values = params(**OWN_PARAMS)
    if given is not None:
        values["hmac"] = [given]

    with pytest.raises(QueryProblem, match=r"oauth\.(missing|bad)_hmac"):
        verify_query(values, [OWN_SECRET])


def test_a_repeated_parameter_is_refused_rather_than_guessed() -> None:
    values = params(**OWN_PARAMS, hmac=OWN_HMAC)
    values["shop"] = ["my-shop.myshopify.com", "evil.myshopify.com"]

    with pytest.raises(QueryProblem, match=r"oauth\.repeated_parameter"):
        verify_query(values, [OWN_SECRET])


def test_separators_inside_values_are_escaped_so_they_cannot_forge_parameters() -> None:
    # Without escaping, both would be signed as the same message.
    one = params(shop="a.myshopify.com&state=x", timestamp="1")
    two = params(shop="a.myshopify.com", state="x", timestamp="1")

    assert signed_message(one) == "shop=a.myshopify.com%26state=x&timestamp=1"
    assert signed_message(one) != signed_message(two)
    assert signed_message(params(**{"a=b": "c%d"})) == "a%3Db=c%25d"


def test_array_parameters_are_signed_once_as_a_json_list() -> None:
    values = {"ids[]": ["1", "2"], "shop": ["a.myshopify.com"], "hmac": ["x"]}

    assert signed_message(values) == 'ids=["1", "2"]&shop=a.myshopify.com'


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("offset", [0, -299, 299])
def test_timestamp_within_the_window_passes(offset: int) -> None:
    check_timestamp(params(timestamp=str(int(NOW.timestamp()) + offset)), NOW, 300)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (str(int(NOW.timestamp()) - 301), "oauth.stale_timestamp"),
        (str(int(NOW.timestamp()) + 301), "oauth.stale_timestamp"),
        ("yesterday", "oauth.missing_timestamp"),
        (None, "oauth.missing_timestamp"),
    ],
)
def test_timestamp_outside_the_window_or_missing_is_refused(given: str | None, reason: str) -> None:
    values = {} if given is None else params(timestamp=given)

    with pytest.raises(QueryProblem) as raised:
        check_timestamp(values, NOW, 300)
    assert raised.value.reason == reason
