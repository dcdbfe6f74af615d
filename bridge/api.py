"""The sync log as JSON for support tools, behind the support bearer token."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from bridge.app import services_of
from bridge.domain.events import parse_timestamp
from bridge.domain.outcomes import Outcome

blueprint = Blueprint("api", __name__, url_prefix="/api")


@blueprint.before_request
def require_support_token() -> ResponseReturnValue | None:
    """Every API route needs `Authorization: Bearer <BRIDGE_SUPPORT_TOKEN>`."""
    expected = services_of(current_app).settings.support_token
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if (
        expected is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(token.strip().encode(), expected.encode())
    ):
        response = jsonify(error="unauthorized", reason="api.unauthorized")
        response.headers["WWW-Authenticate"] = 'Bearer realm="printbridge"'
        return response, 401
    return None


@blueprint.get("/orders/<shop>/<order_id>")
def order(shop: str, order_id: str) -> ResponseReturnValue:
    """One store order's sync log: its deliveries and its actions."""
    document = services_of(current_app).synclog.order(shop.lower(), order_id)
    if document is None:
        abort(404)
    return jsonify(document)


@blueprint.get("/actions")
def actions() -> ResponseReturnValue:
    """Actions newest first, filtered by `shop`, `outcome`, `since` (ISO 8601) and `limit`."""
    outcome = request.args.get("outcome") or None
    if outcome is not None and outcome not in set(Outcome):
        return _bad("outcome", f"unknown outcome {outcome!r}")
    since_text = request.args.get("since") or None
    since = parse_timestamp(since_text) if since_text else None
    if since_text and since is None:
        return _bad("since", "since must be an ISO 8601 time with a UTC offset")
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        return _bad("limit", "limit must be a whole number")
    found = services_of(current_app).synclog.actions(
        shop=(request.args.get("shop") or "").lower() or None,
        outcome=outcome,
        since=since,
        limit=limit,
    )
    return jsonify(actions=found)


@blueprint.errorhandler(404)
def not_found(_error: Exception) -> ResponseReturnValue:
    """Unknown orders answer JSON, like the rest of the API."""
    return jsonify(error="not found", reason="api.not_found"), 404


def _bad(field: str, message: str) -> ResponseReturnValue:
    return jsonify(error=message, reason=f"api.bad_{field}"), 400
