"""The merchant's pages: their shop's install state, Gelato key, settings and data requests.

Server-rendered, no script. The session (Flask's, signed with BRIDGE_SECRET_KEY) holds the one
shop whose OAuth callback signed this browser in, and the time of that installation; every
page checks both, so another shop's pages, or this shop's after a reinstall, answer 404 (or
send a browser that is not signed in through the store's approval again). Every POST carries
the session's CSRF token (`web_security.protect_forms`).
"""

from __future__ import annotations

import json
from dataclasses import replace

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from bridge.adapters.data_requests import DataRequests
from bridge.adapters.shop_records import ShopRecord
from bridge.app import services_of
from bridge.config import ORDER_REFERENCE_FIELDS
from bridge.domain.errors import TransientError
from bridge.domain.shop_domain import normalize_shop_domain
from bridge.services import Services
from bridge.web_security import (
    MERCHANT_INSTALLED_AT_KEY,
    end_session,
    protect_forms,
    session_viewer,
)

blueprint = Blueprint("merchant", __name__, url_prefix="/shops/<shop>")
protect_forms(blueprint)

MAX_KEY_LENGTH = 200
REFERENCE_LABELS = {
    "id": "the order id (820982911946154508)",
    "name": "the order name (#1001)",
    "order_number": "the order number (1001)",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@blueprint.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/settings")
def settings(shop: str) -> ResponseReturnValue:
    """The shop's page: install state, Gelato key, settings, data requests."""
    services, record = _own_shop(shop)
    access = services.shops.load(shop)
    key = access.gelato_api_key if access else None
    return render_template(
        "merchant/settings.html",
        record=record,
        key_ending=key[-4:] if key else None,
        references=[(name, REFERENCE_LABELS[name]) for name in ORDER_REFERENCE_FIELDS],
        data_requests=DataRequests(services.storage.engine).of_shop(shop),
    )


@blueprint.post("/settings")
def save_settings(shop: str) -> ResponseReturnValue:
    """Save dry run, the order reference field and whether country changes are re-issued."""
    services, _record = _own_shop(shop)
    reference = request.form.get("order_reference", "")
    if reference not in ORDER_REFERENCE_FIELDS:
        flash("Choose which store field Gelato's order reference holds.")
        return redirect(url_for("merchant.settings", shop=shop)), 303
    saved = services.shop_records.save_settings(
        shop,
        services.clock(),
        dry_run=request.form.get("dry_run") == "on",
        order_reference=reference,
        allow_country_change=request.form.get("allow_country_change") == "on",
    )
    services.shops.forget(shop)
    flash("Settings saved." if saved else "printbridge is not installed: nothing was saved.")
    return redirect(url_for("merchant.settings", shop=shop)), 303


@blueprint.post("/gelato-key")
def save_gelato_key(shop: str) -> ResponseReturnValue:
    """Check a pasted Gelato key with a harmless call; save it only if Gelato accepts it."""
    services, record = _own_shop(shop)
    key = request.form.get("gelato_api_key", "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        flash("Paste your Gelato API key (from the Gelato dashboard, Developer → API keys).")
        return redirect(url_for("merchant.settings", shop=shop)), 303
    if not record.installed:
        flash("printbridge is not installed: the key was not saved.")
        return redirect(url_for("merchant.settings", shop=shop)), 303
    flash(_check_and_save(services, shop, key))
    return redirect(url_for("merchant.settings", shop=shop)), 303


@blueprint.get("/data-requests/<int:delivery_id>.json")
def data_request_export(shop: str, delivery_id: int) -> ResponseReturnValue:
    """The export of one customer data request: what printbridge holds about those orders."""
    services, _record = _own_shop(shop)
    requests = DataRequests(services.storage.engine)
    found = requests.one(shop, delivery_id)
    if found is None:
        abort(404)
    response = Response(
        json.dumps(requests.export(found), indent=2, ensure_ascii=False),
        mimetype="application/json",
    )
    name = f"printbridge-data-request-{found.request_id or delivery_id}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blueprint.post("/sign-out")
def sign_out(shop: str) -> ResponseReturnValue:
    """End the merchant's session."""
    _own_shop(shop)
    end_session()
    return render_template("merchant/signed_out.html", shop=shop)


def _own_shop(shop: str) -> tuple[Services, ShopRecord]:
    """The signed-in merchant's own shop; 404 for any other, sign-in for nobody."""
    services = services_of(current_app)
    viewer = session_viewer()
    if viewer is None:
        domain = normalize_shop_domain(shop)
        if domain is None or request.method != "GET":
            abort(404)
        # Not signed in: the store's approval page signs them in (at once if installed).
        abort(redirect(url_for("install.install", shop=domain)))
    if viewer.shop is None or viewer.shop != shop:
        abort(404)
    record = services.shop_records.find(shop)
    installed_at = record.installed_at.isoformat() if record and record.installed_at else None
    if (
        record is None
        or installed_at is None
        or session.get(MERCHANT_INSTALLED_AT_KEY) != installed_at
    ):
        # The shop was erased or installed again since: this session belongs to neither.
        end_session()
        abort(404)
    return services, record


def _check_and_save(services: Services, shop: str, key: str) -> str:
    access = services.shops.load(shop)
    if access is None:
        abort(404)
    gelato = services.gelato(replace(access, gelato_api_key=key), lambda call: None)
    try:
        check = gelato.check_key()
    except TransientError as error:
        return f"Gelato could not be reached ({error.message}). The key was not saved; try again."
    if not check.accepted:
        said = check.message.rstrip(".")
        return f"Gelato answered {check.status}: {said}. The key was not saved."
    services.shop_records.save_gelato_key(shop, key, services.clock())
    return f"Gelato: key accepted. The key ending in …{key[-4:]} is saved."
