"""Local stand-in for a shop's OAuth endpoints (authorize, access_token), for tests.

`GET /shops/<shop>/admin/oauth/authorize` approves at once, as a merchant clicking "Install"
would: it redirects to the app's `redirect_uri` with a single-use `code`, `shop`, `state`,
`timestamp` and `host`, signed with the client secret as the store signs them (sorted
`key=value` pairs joined with `&`, hex HMAC-SHA256). `POST .../access_token` exchanges a code
for an expiring offline token and a refresh token (`expiring: 1`), or refreshes
(`grant_type: refresh_token`); each new refresh token replaces the last, and the one before
stays valid until the new one is used. `on_token` hears of every access token issued (the
store sandbox's `register`, so that the store accepts it, and only it).

Control: `POST /_sandbox/faults` `{"status", "error", "count"}` fails the next token requests;
`POST /_sandbox/lifetimes` `{"expires_in", "refresh_token_expires_in"}`;
`GET /_sandbox/tokens/<shop>`; `GET /_sandbox/requests`; `POST /_sandbox/reset`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from bridge.sandbox.oauth_state import OAuthFault, OAuthState
from bridge.sandbox.replies import JsonObject, SandboxError, json_response, read_object

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class OAuthSandbox:
    """WSGI app answering a shop's OAuth endpoints and /_sandbox control calls."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        on_token: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.state = OAuthState(on_token)
        self._map = Map(
            [
                Rule("/shops/<shop>/admin/oauth/authorize", methods=["GET"], endpoint="authorize"),
                Rule("/shops/<shop>/admin/oauth/access_token", methods=["POST"], endpoint="token"),
                Rule("/_sandbox/faults", methods=["POST"], endpoint="faults"),
                Rule("/_sandbox/lifetimes", methods=["POST"], endpoint="lifetimes"),
                Rule("/_sandbox/tokens/<shop>", methods=["GET"], endpoint="tokens"),
                Rule("/_sandbox/requests", methods=["GET"], endpoint="requests"),
                Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
            ],
            strict_slashes=False,
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        request = Request(environ)
        try:
            endpoint, args = self._map.bind_to_environ(environ).match()
            response = self._serve(str(endpoint), request, str(args.get("shop", "")))
        except MethodNotAllowed:
            response = json_response({"errors": "Method not allowed"}, 405)
        except NotFound:
            response = json_response({"errors": "Not Found"}, 404)
        except SandboxError as exc:
            response = json_response({"error": exc.message}, exc.status)
        return response(environ, start_response)

    def _serve(self, endpoint: str, request: Request, shop: str) -> Response:
        if endpoint == "authorize":
            return self._authorize(request, shop)
        if endpoint == "token":
            return self._token(request, shop)
        if endpoint == "tokens":
            return json_response(self.state.tokens(shop))
        if endpoint == "requests":
            return json_response(self.state.requests())
        if endpoint == "reset":
            self.state.reset()
            return json_response({})
        body = read_object(request)
        if endpoint == "faults":
            self.state.queue_fault(_parse_fault(body))
            return json_response({})
        self.state.expires_in = _seconds(body, "expires_in", self.state.expires_in)
        self.state.refresh_expires_in = _seconds(
            body, "refresh_token_expires_in", self.state.refresh_expires_in
        )
        return json_response({})

    def _authorize(self, request: Request, shop: str) -> Response:
        args = request.args
        self.state.record(
            {
                "endpoint": "authorize",
                "shop": shop,
                "client_id": args.get("client_id"),
                "scope": args.get("scope"),
                "redirect_uri": args.get("redirect_uri"),
                "grant_options[]": args.getlist("grant_options[]"),
                "at": time.time(),
            }
        )
        redirect_uri = args.get("redirect_uri")
        if args.get("client_id") != self.client_id or not redirect_uri:
            raise SandboxError(400, "invalid_request")
        params = {
            "code": self.state.issue_code(shop),
            "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvc2FuZGJveA",
            "shop": shop,
            "state": args.get("state", ""),
            "timestamp": str(int(time.time())),
        }
        params["hmac"] = sign(params, self.client_secret)
        return redirect(f"{redirect_uri}?{urlencode(params)}", code=302)

    def _token(self, request: Request, shop: str) -> Response:
        body: dict[str, Any] = read_object(request) if request.is_json else dict(request.form)
        grant_type = body.get("grant_type") or "authorization_code"
        entry: JsonObject = {"endpoint": "access_token", "shop": shop, "grant_type": grant_type}
        try:
            response = self._answer_token(shop, body, grant_type)
        except SandboxError as exc:
            response = json_response({"error": exc.message}, exc.status)
        entry.update(status=response.status_code, at=time.time())
        self.state.record(entry)
        return response

    def _answer_token(self, shop: str, body: dict[str, Any], grant_type: str) -> Response:
        fault = self.state.next_fault()
        if fault is not None:
            return json_response({"error": fault.error}, fault.status)
        secret = str(body.get("client_secret", ""))
        if body.get("client_id") != self.client_id or not hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        ):
            raise SandboxError(401, "invalid_client")
        if grant_type == "refresh_token":
            return json_response(self.state.refresh(shop, str(body.get("refresh_token", ""))))
        if grant_type != "authorization_code":
            raise SandboxError(400, "unsupported_grant_type")
        expiring = str(body.get("expiring", "0")) == "1"
        return json_response(self.state.exchange(shop, str(body.get("code", "")), expiring))


def sign(params: dict[str, str], secret: str) -> str:
    """The store's query signature: sorted `key=value` pairs joined by `&`, hex HMAC-SHA256."""
    message = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _parse_fault(body: JsonObject) -> OAuthFault:
    status = body.get("status", 400)
    count = body.get("count", 1)
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise SandboxError(400, "status must be an HTTP error status.")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise SandboxError(400, "count must be a positive integer.")
    return OAuthFault(
        status=status, error=str(body.get("error", "invalid_request")), remaining=count
    )


def _seconds(body: JsonObject, name: str, current: int) -> int:
    value = body.get(name, current)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SandboxError(400, f"{name} must be a whole number of seconds >= 1.")
    return value
