"""The store's OAuth endpoints: the authorize URL, the code exchange and token refresh."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from bridge.adapters.redaction import redact_text
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.retry import Answer, classify_status, parse_retry_after

SCOPES = "read_orders,write_orders"


@dataclass(frozen=True)
class TokenGrant:
    """The store's answer to a code exchange or a refresh (reference/shopify.md §3.4-3.5)."""

    access_token: str = field(repr=False)
    scopes: str
    expires_in: int | None
    refresh_token: str | None = field(repr=False)
    refresh_token_expires_in: int | None


class OAuthClient:
    """Talks to `https://{shop}/admin/oauth/...` (SHOPIFY_OAUTH_URL_TEMPLATE) as the app."""

    def __init__(
        self,
        session: requests.Session,
        url_template: str,
        client_id: str | None,
        client_secret: str,
        timeout: float,
    ) -> None:
        self._session = session
        self._template = url_template
        self._client_id = client_id or ""
        self._client_secret = client_secret
        self._timeout = timeout

    def url(self, shop: str, endpoint: str) -> str:
        """The URL of one OAuth endpoint (`authorize`, `access_token`) of a shop."""
        return self._template.format(shop=shop, endpoint=endpoint)

    def authorize_url(self, shop: str, redirect_uri: str, state: str) -> str:
        """Where the merchant approves the app: offline access (`grant_options[]` empty)."""
        query = urlencode(
            {
                "client_id": self._client_id,
                "scope": SCOPES,
                "redirect_uri": redirect_uri,
                "state": state,
                "grant_options[]": "",
            }
        )
        return f"{self.url(shop, 'authorize')}?{query}"

    def exchange(self, shop: str, code: str) -> TokenGrant:
        """Trade an authorization code for an expiring offline token and its refresh token."""
        return self._token_request(shop, {"code": code, "expiring": 1})

    def refresh(self, shop: str, refresh_token: str) -> TokenGrant:
        """Trade a refresh token for a new access token and a new refresh token."""
        return self._token_request(
            shop, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    def _token_request(self, shop: str, fields: dict[str, Any]) -> TokenGrant:
        body = {"client_id": self._client_id, "client_secret": self._client_secret, **fields}
        secrets = (self._client_secret, *(str(v) for v in fields.values() if isinstance(v, str)))
        try:
            response = self._session.post(
                self.url(shop, "access_token"),
                json=body,
                headers={"Accept": "application/json"},
                timeout=(min(3.05, self._timeout), self._timeout),
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise TransientError(
                "oauth.unavailable",
                f"the store's token endpoint did not answer: {type(error).__name__}",
            ) from error
        answer = classify_status(response.status_code)
        if answer is Answer.TRANSIENT:
            raise TransientError(
                "oauth.unavailable",
                f"the store's token endpoint answered {response.status_code}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        parsed = _json(response)
        if answer is not Answer.OK:
            code = parsed.get("error") or parsed.get("errors") or "no error code"
            message = f"the store refused the token request ({response.status_code}: {code!s:.200})"
            raise PermanentError("oauth.refused", redact_text(message, secrets))
        return _grant(parsed)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        parsed = response.json()
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _grant(body: dict[str, Any]) -> TokenGrant:
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError("oauth.bad_answer", "the store's token answer has no access token")
    refresh = body.get("refresh_token")
    return TokenGrant(
        access_token=token,
        scopes=str(body.get("scope") or ""),
        expires_in=_seconds(body.get("expires_in")),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_token_expires_in=_seconds(body.get("refresh_token_expires_in")),
    )


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return int(value)
