"""The store's OAuth token endpoint over a real requests.Session, answered by `responses`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from bridge.adapters.oauth import OAuthClient
from bridge.domain.errors import PermanentError, TransientError

SHOP = "merchant-one.myshopify.com"
URL = f"https://{SHOP}/admin/oauth/access_token"
CLIENT_ID = "client-id-123"
CLIENT_SECRET = "client-secret-abc"
GRANT = {
    "access_token": "shpca_new_access",
    "scope": "write_orders,read_orders",
    "expires_in": 3600,
    "refresh_token": "shprt_new_refresh",
    "refresh_token_expires_in": 7776000,
}


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def oauth() -> Iterator[OAuthClient]:
    session = requests.Session()
    yield OAuthClient(session, "https://{shop}/admin/oauth/{endpoint}", CLIENT_ID, CLIENT_SECRET, 2)
    session.close()


def body(http: responses.RequestsMock) -> dict[str, Any]:
    raw = http.calls[0].request.body
    assert raw is not None
    sent: dict[str, Any] = json.loads(raw)
    return sent


def test_authorize_url_asks_for_offline_access_to_orders(oauth: OAuthClient) -> None:
    url = urlsplit(oauth.authorize_url(SHOP, "https://bridge.example/auth/callback", "n0nce"))

    assert f"{url.scheme}://{url.netloc}{url.path}" == f"https://{SHOP}/admin/oauth/authorize"
    assert parse_qs(url.query, keep_blank_values=True) == {
        "client_id": [CLIENT_ID],
        "scope": ["read_orders,write_orders"],
        "redirect_uri": ["https://bridge.example/auth/callback"],
        "state": ["n0nce"],
        "grant_options[]": [""],
    }


def test_code_exchange_asks_for_an_expiring_token(
    oauth: OAuthClient, http: responses.RequestsMock
) -> None:
    http.post(URL, json=GRANT)

    grant = oauth.exchange(SHOP, "the-code")

    assert body(http) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": "the-code",
        "expiring": 1,
    }
    assert grant.access_token == "shpca_new_access"
    assert grant.refresh_token == "shprt_new_refresh"
    assert (grant.expires_in, grant.refresh_token_expires_in) == (3600, 7776000)
    assert grant.scopes == "write_orders,read_orders"
    assert "shpca_new_access" not in repr(grant)


def test_refresh_sends_the_refresh_token_grant(
    oauth: OAuthClient, http: responses.RequestsMock
) -> None:
    http.post(URL, json=GRANT)

    oauth.refresh(SHOP, "shprt_old")

    assert body(http) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": "shprt_old",
    }


def test_a_non_expiring_answer_has_no_expiry_and_no_refresh_token(
    oauth: OAuthClient, http: responses.RequestsMock
) -> None:
    http.post(URL, json={"access_token": "shpat_forever", "scope": "read_orders"})

    grant = oauth.exchange(SHOP, "the-code")

    assert (grant.expires_in, grant.refresh_token) == (None, None)


def test_a_refusal_is_permanent_and_its_message_holds_no_secret(
    oauth: OAuthClient, http: responses.RequestsMock
) -> None:
    http.post(URL, status=400, json={"error": f"invalid_grant for {CLIENT_SECRET} shprt_old"})

    with pytest.raises(PermanentError) as raised:
        oauth.refresh(SHOP, "shprt_old")

    assert raised.value.reason == "oauth.refused"
    assert CLIENT_SECRET not in raised.value.message
    assert "shprt_old" not in raised.value.message
    assert "400" in raised.value.message


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_passing_failure_is_transient(
    oauth: OAuthClient, http: responses.RequestsMock, status: int
) -> None:
    http.post(URL, status=status, headers={"Retry-After": "7"})

    with pytest.raises(TransientError) as raised:
        oauth.exchange(SHOP, "the-code")

    assert raised.value.reason == "oauth.unavailable"
    assert raised.value.retry_after == 7


def test_no_answer_is_transient(oauth: OAuthClient, http: responses.RequestsMock) -> None:
    http.post(URL, body=requests.ConnectionError("refused"))

    with pytest.raises(TransientError, match="ConnectionError"):
        oauth.exchange(SHOP, "the-code")


@pytest.mark.parametrize("answer", [{}, {"access_token": ""}, ["not", "an", "object"]])
def test_an_answer_without_a_token_is_a_permanent_error(
    oauth: OAuthClient, http: responses.RequestsMock, answer: Any
) -> None:
    http.post(URL, json=answer)

    with pytest.raises(PermanentError) as raised:
        oauth.exchange(SHOP, "the-code")

    assert raised.value.reason == "oauth.bad_answer"
