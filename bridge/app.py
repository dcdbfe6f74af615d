"""The application factory: the one place a printbridge app is built, for web and worker."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask

from bridge.config import ConfigError, Settings
from bridge.services import Services, build_services

EXTENSION = "printbridge"


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the app: settings, services, blueprints, error handlers, commands."""
    app = Flask("bridge", instance_relative_config=True)
    settings = settings or _settings_from_environment(app.instance_path)
    _configure(app, settings)
    app.extensions[EXTENSION] = services or build_services(settings)
    _register_blueprints(app)
    _register_commands(app)
    return app


def services_of(app: Flask) -> Services:
    """The services the app was built with."""
    services: Services = app.extensions[EXTENSION]
    return services


def _settings_from_environment(instance_path: str) -> Settings:
    try:
        return Settings.from_env(os.environ, instance_path=Path(instance_path))
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
    from webhooks.views import blueprint as webhooks

    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    app.register_blueprint(api)


def _register_commands(app: Flask) -> None:
    from bridge.commands import register

    register(app)
