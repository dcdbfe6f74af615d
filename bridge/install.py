"""Installing printbridge on a shop: the OAuth authorization code grant (non-embedded app).

`GET /auth/install?shop=…` sends the merchant to the store to approve the app; the store sends
them back to `GET /auth/callback`, which checks everything before trading the code for tokens:
the query's HMAC (as the store signs it), its timestamp, the shop domain, and the `state` nonce
against a signed cookie set on this browser at install (single use, across processes). The
merchant then lands on their shop's settings page, signed in to it and to nothing else.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence

import redis
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge.adapters.nonces import NonceLedger
from bridge.app import services_of
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.query_signature import QueryProblem, check_timestamp, verify_query
from bridge.domain.shop_domain import normalize_shop_domain
from bridge.services import Services
from bridge.web_security import sign_in_merchant

log = logging.getLogger(__name__)
blueprint = Blueprint("install", __name__, url_prefix="/auth")

STATE_COOKIE = "printbridge_oauth_state"
STATE_SALT = "printbridge.oauth-state"
# Long enough to read the approval page; the nonce is refused once used, whatever its age.
STATE_MAX_AGE_SECONDS = 600
# The store stamps the callback when it redirects: a few minutes covers clock skew.
TIMESTAMP_TOLERANCE_SECONDS = 300


class InstallProblem(Exception):
    """Why an install or callback request is refused: a status, a reason code, a sentence."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.message = message


@blueprint.errorhandler(InstallProblem)
def _problem_page(problem: InstallProblem) -> ResponseReturnValue:
    log.info("install refused: %s", problem.reason)
    page = render_template("merchant/problem.html", reason=problem.reason, message=problem.message)
    return page, problem.status


@blueprint.get("/install")
def install() -> ResponseReturnValue:
    """Send the merchant to their store to approve printbridge."""
    services = _installing_services()
    params = request.args.to_dict(flat=False)
    if "hmac" in params:
        # Opened from the store (the app's listing or admin): signed, so it must verify. A
        # merchant typing the URL sends no hmac; the callback is where trust is established.
        _verify(services, params)
    shop = _shop(params)
    nonce = secrets.token_hex(32)
    redirect_uri = f"{services.settings.public_url}{url_for('install.callback')}"
    response = redirect(services.oauth.authorize_url(shop, redirect_uri, nonce))
    response.set_cookie(
        STATE_COOKIE,
        _state_serializer(services).dumps({"nonce": nonce, "shop": shop}),
        max_age=STATE_MAX_AGE_SECONDS,
        path=url_for("install.callback"),
        secure=(services.settings.public_url or "").startswith("https://"),
        httponly=True,
        samesite="Lax",
    )
    return response


@blueprint.get("/callback")
def callback() -> ResponseReturnValue:
    """Verify the store's answer, exchange the code, store the shop, sign the merchant in."""
    services = _installing_services()
    params = request.args.to_dict(flat=False)
    _verify(services, params)
    shop = _shop(params)
    nonce = _checked_state(services, params, shop)
    code = _single(params, "code")
    if not code:
        raise InstallProblem(400, "oauth.missing_code", "The store sent no authorization code.")
    _use_nonce(services, nonce)
    try:
        grant = services.oauth.exchange(shop, code)
    except (PermanentError, TransientError) as error:
        log.warning("code exchange for %s failed: %s", shop, error.reason)
        raise InstallProblem(
            502,
            error.reason,
            "The store did not give printbridge access. Open the app from your store admin to "
            "try again.",
        ) from error
    now = services.clock()
    services.shop_records.install(shop, grant, now, services.shop_defaults)
    services.shops.forget(shop)
    _subscribe_soon(services, shop)
    # Bound to this installation: a session from before a reinstall is worth nothing after it.
    sign_in_merchant(shop, installed_at=now.isoformat())
    response = redirect(url_for("merchant.settings", shop=shop))
    response.delete_cookie(STATE_COOKIE, path=url_for("install.callback"))
    log.info("installed on %s (scopes %s)", shop, grant.scopes)
    return response


def _installing_services() -> Services:
    services = services_of(current_app)
    missing = services.settings.missing_for_install
    if missing:
        raise InstallProblem(
            503,
            "install.not_configured",
            "Installing printbridge on a store is not set up on this server: "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set.",
        )
    return services


def _verify(services: Services, params: Mapping[str, Sequence[str]]) -> None:
    try:
        verify_query(params, services.settings.webhook_secrets)
        check_timestamp(params, services.clock(), TIMESTAMP_TOLERANCE_SECONDS)
    except QueryProblem as problem:
        raise InstallProblem(
            400, problem.reason, "This link was not signed by the store, or it is too old."
        ) from None


def _shop(params: Mapping[str, Sequence[str]]) -> str:
    shop = normalize_shop_domain(_single(params, "shop"))
    if shop is None:
        raise InstallProblem(
            400,
            "oauth.bad_shop",
            "That is not a store address printbridge accepts: give it like "
            "your-store.myshopify.com.",
        )
    return shop


def _checked_state(services: Services, params: Mapping[str, Sequence[str]], shop: str) -> str:
    """The nonce, once the state cookie is present, genuine, fresh and names this shop."""
    cookie = request.cookies.get(STATE_COOKIE)
    given = _single(params, "state")
    if not cookie or not given:
        raise InstallProblem(
            400,
            "oauth.state_missing",
            "This browser did not start the installation (its cookie is missing). Start again "
            "from your store admin.",
        )
    try:
        saved = _state_serializer(services).loads(cookie, max_age=STATE_MAX_AGE_SECONDS)
    except BadSignature:
        raise InstallProblem(
            400, "oauth.state_invalid", "The installation took too long or was tampered with."
        ) from None
    nonce = saved.get("nonce") if isinstance(saved, dict) else None
    matches = isinstance(nonce, str) and secrets.compare_digest(nonce.encode(), given.encode())
    if not matches or saved.get("shop") != shop:
        raise InstallProblem(
            400, "oauth.state_mismatch", "The answer does not belong to this installation."
        )
    return str(nonce)


def _use_nonce(services: Services, nonce: str) -> None:
    try:
        fresh = NonceLedger(services.redis).use("oauth-state", nonce, STATE_MAX_AGE_SECONDS * 2)
    except redis.RedisError:
        raise InstallProblem(
            503, "queue.unavailable", "printbridge cannot finish installing right now."
        ) from None
    if not fresh:
        raise InstallProblem(
            400, "oauth.state_replayed", "This installation answer was used already."
        )


def _subscribe_soon(services: Services, shop: str) -> None:
    """Register the order webhooks from the worker; the periodic check repairs a miss."""
    try:
        services.queue.enqueue_subscriptions(shop)
    except redis.RedisError:
        log.warning("subscriptions of %s not queued: Redis unavailable", shop)


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    return values[0] if len(values) == 1 else None


def _state_serializer(services: Services) -> URLSafeTimedSerializer:
    # BRIDGE_SECRET_KEY with its own salt: never the app's client secret, which signs
    # webhooks (reference/shopify.md §1.2, hardening note).
    return URLSafeTimedSerializer(services.settings.secret_key, salt=STATE_SALT)
