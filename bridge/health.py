"""Liveness and readiness: is the process up, can it reach its database and Redis."""

from __future__ import annotations

import logging

import redis
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from bridge.app import services_of

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process answers."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The database and Redis both answer; 503 naming the one that does not."""
    services = services_of(current_app)
    checks: dict[str, str] = {}
    try:
        services.storage.ping()
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError as error:
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        checks["database"] = "unreachable"
    try:
        services.queue.ping()
        checks["redis"] = "ok"
    except redis.RedisError as error:
        log.warning("readiness: Redis unreachable: %s", type(error).__name__)
        checks["redis"] = "unreachable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
