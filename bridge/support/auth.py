"""Signing in and out of the support console."""

from __future__ import annotations

import logging

import redis
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bridge.support.blueprint import blueprint, services, users
from bridge.web_security import (
    SUPPORT_USER_KEY,
    current_viewer,
    end_session,
    safe_next,
    start_session,
)

log = logging.getLogger(__name__)

# Failed sign-ins per email before it is locked for the window; Argon2 already makes each
# guess slow, this makes guessing a single account hopeless.
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 15 * 60


def _failures_key(email: str) -> str:
    return f"printbridge:support-sign-in-failures:{email.strip().lower()[:255]}"


def _locked(email: str) -> bool:
    try:
        count = services().redis.get(_failures_key(email))
    except redis.RedisError:
        log.warning("sign-in throttle unavailable: Redis is not answering")
        return False
    return count is not None and int(count) >= MAX_FAILURES


def _count_failure(email: str) -> None:
    key = _failures_key(email)
    try:
        with services().redis.pipeline() as pipeline:
            pipeline.incr(key)
            pipeline.expire(key, FAILURE_WINDOW_SECONDS)
            pipeline.execute()
    except redis.RedisError:
        log.warning("sign-in failure not counted: Redis is not answering")


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """The sign-in form for support users (merchants come in through the store app)."""
    target = safe_next(request.values.get("next"), url_for("support.overview"))
    if request.method == "GET":
        if current_viewer() is not None:
            return redirect(target)
        return render_template("support/sign_in.html", next=target, email="", error=None)
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    error = None
    if _locked(email):
        error = "Too many failed sign-ins for this email: wait 15 minutes and try again."
    else:
        user = users().authenticate(email, password, services().clock())
        if user is not None:
            start_session(**{SUPPORT_USER_KEY: user.id})
            return redirect(target)
        _count_failure(email)
        error = "That email and password do not match an enabled support user."
    page = render_template("support/sign_in.html", next=target, email=email, error=error)
    return page, 401


@blueprint.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    """End the session."""
    end_session()
    return redirect(url_for("support.sign_in"))
