"""Installing printbridge on a shop as a merchant's browser does: install, approve, callback."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import SECRET

PUBLIC_URL = "http://printbridge.test"
API_KEY = "printbridge-client-id"
MERCHANT_SHOP = "merchant-one.myshopify.com"
OTHER_SHOP = "merchant-two.myshopify.com"
MERCHANT_GELATO_KEY = "gelato-merchant-one-key-7f3a"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def shopify_hmac(params: dict[str, str], secret: str = SECRET) -> str:
    """The query signature as the store computes it: sorted `k=v` joined by `&`, hex."""
    message = "&".join(f"{key}={params[key]}" for key in sorted(params))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed(params: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    """The parameters with the store's `hmac` added."""
    return {**params, "hmac": shopify_hmac(params, secret)}


@dataclass(frozen=True)
class Approval:
    """The store's redirect back to printbridge after the merchant approved the app."""

    authorize_url: str
    callback_params: dict[str, str]

    @property
    def callback(self) -> str:
        """The callback path and query, as the browser would request it."""
        return f"/auth/callback?{urlencode(self.callback_params)}"


def start_install(client: FlaskClient, shop: str, **query: str) -> TestResponse:
    """The merchant opens /auth/install?shop=…"""
    return client.get(f"/auth/install?{urlencode({'shop': shop, **query})}")


def approve(started: TestResponse) -> Approval:
    """Follow printbridge's redirect to the store's approval page (the OAuth sandbox, over HTTP)."""
    assert started.status_code == 302, started.get_data(as_text=True)
    authorize_url = started.headers["Location"]
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == PUBLIC_URL
    assert back.path == "/auth/callback"
    return Approval(authorize_url, dict(parse_qsl(back.query, keep_blank_values=True)))


def install(client: FlaskClient, shop: str = MERCHANT_SHOP) -> TestResponse:
    """The whole flow; returns printbridge's answer to the callback."""
    return client.get(approve(start_install(client, shop)).callback)


def csrf_of(page: TestResponse) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, "no form with a CSRF token on the page"
    return found.group(1)


def now_stamp(offset: int = 0) -> str:
    """A store timestamp, `offset` seconds from now."""
    return str(int(time.time()) + offset)


def form(page: TestResponse, **fields: Any) -> dict[str, Any]:
    """Form fields with the page's CSRF token."""
    return {"csrf_token": csrf_of(page), **fields}
