"""The OAuth sandbox answers like a shop's OAuth endpoints, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bridge.domain.query_signature import verify_query
from bridge.sandbox import serve_in_thread
from bridge.sandbox.oauth import OAuthSandbox

SHOP = "sandbox-shop.myshopify.com"
CLIENT_ID = "sandbox-client"
SECRET = "sandbox-secret"
CALLBACK = "https://bridge.example/auth/callback"


class OAuth:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def authorize(self, shop: str = SHOP, client_id: str = CLIENT_ID) -> requests.Response:
        query = {"client_id": client_id, "scope": "read_orders", "redirect_uri": CALLBACK,
                 "state": "s1", "grant_options[]": ""}  # fmt: skip
        return self.http.get(
            f"{self.url}/shops/{shop}/admin/oauth/authorize",
            params=query,
            allow_redirects=False,
            timeout=5,
        )

    def code(self) -> str:
        location = urlsplit(self.authorize().headers["Location"])
        return parse_qs(location.query)["code"][0]

    def token(self, shop: str = SHOP, **body: Any) -> requests.Response:
        payload = {"client_id": CLIENT_ID, "client_secret": SECRET, **body}
        return self.http.post(
            f"{self.url}/shops/{shop}/admin/oauth/access_token", json=payload, timeout=5
        )


@pytest.fixture
def issued() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def oauth(issued: list[tuple[str, str]]) -> Iterator[OAuth]:
    server = serve_in_thread(
        OAuthSandbox(CLIENT_ID, SECRET, on_token=lambda shop, token: issued.append((shop, token)))
    )
    yield OAuth(server.url)
    server.stop()


def test_approval_redirects_back_signed_as_the_store_signs(oauth: OAuth) -> None:
    answer = oauth.authorize()

    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    params = parse_qs(location.query)
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == [SHOP]
    assert params["state"] == ["s1"]
    verify_query(params, [SECRET])


def test_unknown_client_is_refused_at_approval(oauth: OAuth) -> None:
    assert oauth.authorize(client_id="someone-else").status_code == 400


def test_a_code_is_exchanged_once_for_an_expiring_token(
    oauth: OAuth, issued: list[tuple[str, str]]
) -> None:
    code = oauth.code()

    first = oauth.token(code=code, expiring=1)
    again = oauth.token(code=code, expiring=1)

    assert first.status_code == 200
    grant = first.json()
    assert grant["expires_in"] == 3600
    assert grant["refresh_token"].startswith("shprt_")
    assert issued == [(SHOP, grant["access_token"])]
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})


def test_a_code_of_another_shop_is_refused(oauth: OAuth) -> None:
    assert oauth.token(shop="other.myshopify.com", code=oauth.code()).status_code == 400


def test_wrong_client_secret_is_refused(oauth: OAuth) -> None:
    answer = oauth.token(code=oauth.code(), client_secret="guess")

    assert (answer.status_code, answer.json()) == (401, {"error": "invalid_client"})


def test_refresh_replaces_the_refresh_token_and_the_previous_one_works_until_replaced(
    oauth: OAuth,
) -> None:
    first = oauth.token(code=oauth.code(), expiring=1).json()

    second = oauth.token(grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    late = oauth.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    third = oauth.token(grant_type="refresh_token", refresh_token=late.json()["refresh_token"])
    stale = oauth.token(grant_type="refresh_token", refresh_token=first["refresh_token"])

    assert second["refresh_token"] != first["refresh_token"]
    assert late.status_code == 200
    assert third.status_code == 200
    assert stale.status_code == 400


def test_queued_faults_fail_the_next_token_requests(oauth: OAuth) -> None:
    oauth.http.post(f"{oauth.url}/_sandbox/faults", json={"status": 503, "count": 1}, timeout=5)

    failed = oauth.token(code=oauth.code(), expiring=1)
    log = oauth.http.get(f"{oauth.url}/_sandbox/requests", timeout=5).json()

    assert failed.status_code == 503
    assert [entry["status"] for entry in log if entry["endpoint"] == "access_token"] == [503]


def test_lifetimes_can_be_shortened(oauth: OAuth) -> None:
    oauth.http.post(f"{oauth.url}/_sandbox/lifetimes", json={"expires_in": 60}, timeout=5)

    assert oauth.token(code=oauth.code(), expiring=1).json()["expires_in"] == 60
