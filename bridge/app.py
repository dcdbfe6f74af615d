"""The application factory: the one place a printbridge app is built, for web and worker."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask
from flask.sansio.scaffold import find_package

from bridge.config import ConfigError, Settings, instance_path_from_env
from bridge.services import Services, build_services

if TYPE_CHECKING:
    from webhooks.admission import Admission

EXTENSION = "printbridge"
ADMISSION = "printbridge.admission"


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the app: settings, services, blueprints, error handlers, commands."""
    settings = settings or _settings_from_environment()
    app = Flask("bridge", instance_path=str(settings.instance_path))
    _configure(app, settings)
    app.extensions[EXTENSION] = services or build_services(settings)
    _register_blueprints(app)
    _register_commands(app)
    _register_support_console(app)
    _guard_webhooks(app, settings)
    return app


def services_of(app: Flask) -> Services:
    """The services the app was built with."""
    services: Services = app.extensions[EXTENSION]
    return services


def default_instance_path() -> Path:
    """Flask's instance folder for printbridge: `instance/` in a checkout, `var/` in a venv."""
    prefix, package_path = find_package("bridge")
    if prefix is None:
        return Path(package_path) / "instance"
    return Path(prefix) / "var" / "bridge-instance"


def instance_path() -> Path:
    """The instance folder in use: BRIDGE_INSTANCE_PATH, or Flask's default."""
    return instance_path_from_env(os.environ, default=str(default_instance_path()))


def _settings_from_environment() -> Settings:
    try:
        return Settings.from_env(os.environ, instance_path=instance_path())
    except ConfigError as error:
        # One clear line, not a traceback: start-up stops here.
        print(f"printbridge: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )


def _register_blueprints(app: Flask) -> None:
    from bridge.api import blueprint as api
    from bridge.health import blueprint as health
    from bridge.install import blueprint as install
    from bridge.merchant import blueprint as merchant
    from webhooks.views import blueprint as webhooks

    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    app.register_blueprint(api)
    app.register_blueprint(install)
    app.register_blueprint(merchant)


def _guard_webhooks(app: Flask, settings: Settings) -> None:
    """Put the webhook receiver behind this process's admission gate (README "Load shedding")."""
    from webhooks.admission import Admission, AdmissionMiddleware
    from webhooks.views import refusal_counter

    web = settings.web
    gate = Admission(web.max_inflight_webhooks, web.max_queued_webhooks, web.admission_wait_seconds)
    app.extensions[ADMISSION] = gate
    count_refusal = refusal_counter(services_of(app).metrics)
    app.wsgi_app = AdmissionMiddleware(app.wsgi_app, gate, count_refusal)  # type: ignore[method-assign]


def admission_of(app: Flask) -> Admission:
    """The admission gate of the app's webhook receiver."""
    gate: Admission = app.extensions[ADMISSION]
    return gate


def _register_commands(app: Flask) -> None:
    from bridge.commands import register

    register(app)


def _register_support_console(app: Flask) -> None:
    from bridge.support import register

    register(app)
