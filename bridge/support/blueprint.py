"""The support console's blueprint: who is signed in, CSRF on every form, safe headers."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, session

from bridge.app import services_of
from bridge.services import Services
from bridge.support.queries import SupportQueries
from bridge.support.users import SupportUsers
from bridge.web_security import (
    MERCHANT_INSTALLED_AT_KEY,
    Viewer,
    current_viewer,
    end_session,
    protect_forms,
    session_viewer,
    set_viewer,
)

blueprint = Blueprint(
    "support",
    __name__,
    url_prefix="/support",
    static_folder="static",
    static_url_path="/static",
)
protect_forms(blueprint)
blueprint.app_context_processor(lambda: {"current_viewer": current_viewer})


@blueprint.app_template_filter()
def dict_without(values: dict[str, str], key: str) -> dict[str, str]:
    """The query parameters without one of them (for pager links)."""
    return {name: value for name, value in values.items() if name != key}


# No script, no framing, forms only to this site; the chart is SVG drawn with attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def services() -> Services:
    """The app's services."""
    return services_of(current_app)


def queries() -> SupportQueries:
    """The console's read models."""
    return SupportQueries(services().storage.engine)


def users() -> SupportUsers:
    """The support users."""
    return SupportUsers(services().storage.engine)


@blueprint.before_request
def load_viewer() -> None:
    """Check the session's person against the database: disabled or uninstalled means out."""
    found = session_viewer()
    if found is not None and found.support_user_id is not None:
        user = users().get(found.support_user_id)
        found = None if user is None or user.disabled else Viewer(user.email, None, user.id)
    elif found is not None and found.shop is not None and not _merchant_current(found.shop):
        found = None
    if found is None and session_viewer() is not None:
        end_session()
    set_viewer(found)


def _merchant_current(shop: str) -> bool:
    """Whether the merchant's shop is served, and installed as it was when they signed in."""
    if services().shops.get(shop) is None:
        return False
    record = services().shop_records.find(shop)
    if record is None:  # the environment's shop (a custom app): no installation to match
        return True
    signed_in_for = session.get(MERCHANT_INSTALLED_AT_KEY)
    return (
        record.installed
        and record.installed_at is not None
        and signed_in_for == record.installed_at.isoformat()
    )


@blueprint.after_request
def secure_headers(response: Response) -> Response:
    """Pages of the console are private: not cached, not framed, no script."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blueprint.errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    """A record that does not exist, or that the viewer may not see: the same answer."""
    return render_template("support/not_found.html"), 404
