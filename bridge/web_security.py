"""Browser sessions for people: who is signed in, CSRF tokens on every form, sign-in required.

Shared by the support console and the merchant pages. Flask's session is a cookie signed with
BRIDGE_SECRET_KEY (itsdangerous); it holds only ids, never a secret. Two kinds of people sign
in: a support user (`SUPPORT_USER_KEY`, who sees every shop) and a merchant who opened the app
from the store admin (`MERCHANT_SHOP_KEY`, set by the OAuth callback: sees only that shop).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Blueprint, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

# Session keys: the contract between the pages that sign people in and those that check.
SUPPORT_USER_KEY = "support_user_id"
MERCHANT_SHOP_KEY = "merchant_shop"
# When the shop was installed, as the OAuth callback stored it: a session from an earlier
# installation (before an uninstall) is worth nothing.
MERCHANT_INSTALLED_AT_KEY = "merchant_installed_at"
CSRF_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SIGN_IN_ENDPOINT = "support.sign_in"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a support user (every shop) or a merchant (their own shop only)."""

    name: str
    shop: str | None = None
    support_user_id: int | None = None

    @property
    def is_merchant(self) -> bool:
        """Whether this is a merchant, limited to one shop."""
        return self.shop is not None

    @property
    def shops(self) -> tuple[str, ...] | None:
        """The shops this viewer may see; None means every shop."""
        return None if self.shop is None else (self.shop,)

    def may_see(self, shop: str) -> bool:
        """Whether records of `shop` are visible to this viewer."""
        return self.shop is None or self.shop == shop


def start_session(**values: str | int) -> None:
    """Sign someone in: a new session (no fixation), a fresh CSRF token, these values."""
    session.clear()
    session.update(values)
    session[CSRF_KEY] = secrets.token_urlsafe(32)
    session.permanent = True
    g.pop("viewer", None)


def sign_in_merchant(shop: str, installed_at: str | None = None) -> None:
    """Sign in the merchant of `shop` (call after a verified OAuth callback)."""
    start_session(**{MERCHANT_SHOP_KEY: shop})
    if installed_at is not None:
        session[MERCHANT_INSTALLED_AT_KEY] = installed_at


def end_session() -> None:
    """Sign out: forget everything the session held."""
    session.clear()
    g.pop("viewer", None)


def session_viewer() -> Viewer | None:
    """The viewer the session names, unchecked against the database (see `current_viewer`)."""
    shop = session.get(MERCHANT_SHOP_KEY)
    if isinstance(shop, str) and shop:
        return Viewer(name=shop, shop=shop)
    user_id = session.get(SUPPORT_USER_KEY)
    if isinstance(user_id, int):
        return Viewer(name="", support_user_id=user_id)
    return None


def set_viewer(viewer: Viewer | None) -> None:
    """Record who this request is for, once the session has been checked."""
    g.viewer = viewer


def current_viewer() -> Viewer | None:
    """The checked viewer of this request, or None when nobody is signed in."""
    viewer: Viewer | None = g.get("viewer")
    return viewer


def viewer() -> Viewer:
    """The viewer of a view behind `login_required`."""
    found = current_viewer()
    if found is None:  # only reachable from a view that forgot login_required
        abort(401)
    return found


def login_required(view: Callable[_P, ResponseReturnValue]) -> Callable[_P, ResponseReturnValue]:
    """Send anyone not signed in to the sign-in page, then back here."""

    @wraps(view)
    def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> ResponseReturnValue:
        if current_viewer() is None:
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for(SIGN_IN_ENDPOINT, next=target))
        return view(*args, **kwargs)

    return wrapped


def csrf_token() -> str:
    """This session's CSRF token, made on first use; every form carries it."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def csrf_valid() -> bool:
    """Whether the request carries this session's CSRF token."""
    expected = session.get(CSRF_KEY)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and hmac.compare_digest(given.encode(), expected.encode())


def protect_forms(blueprint: Blueprint) -> None:
    """Refuse (400) every unsafe request to the blueprint that lacks the session's CSRF token."""

    def check_csrf() -> ResponseReturnValue | None:
        if request.method in UNSAFE_METHODS and not csrf_valid():
            return (
                "The form was out of date or not ours (CSRF check failed). Reload and retry.",
                400,
            )
        return None

    blueprint.before_request(check_csrf)
    blueprint.app_context_processor(lambda: {"csrf_token": csrf_token})


def safe_next(target: str | None, default: str) -> str:
    """A redirect target after sign-in: a path on this site only, never another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default
