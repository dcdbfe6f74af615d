"""The support console: sign-in, overview, search, order timelines, the queue, re-evaluate."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

SESSION_HOURS = 12


def register(app: Flask) -> None:
    """Add the console's pages, its session settings and its `support-user` commands."""
    from bridge.support import auth, operations, views  # noqa: F401  (routes on the blueprint)
    from bridge.support.blueprint import blueprint
    from bridge.support.commands import support_user

    app.register_blueprint(blueprint)
    app.cli.add_command(support_user)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=SESSION_HOURS)
    # Another part of the app (embedded merchant pages) may need its own cookie policy.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    public_url = app.extensions["printbridge"].settings.public_url or ""
    if public_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
