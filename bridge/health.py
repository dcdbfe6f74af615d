"""How operators see a process: liveness, readiness, and its metrics for Prometheus."""

from __future__ import annotations

import hmac
import logging

import redis
import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bridge.app import services_of
from bridge.metrics import BridgeCollector

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


@blueprint.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Prometheus metrics of every process; bearer BRIDGE_METRICS_TOKEN when it is set."""
    services = services_of(current_app)
    expected = services.settings.metrics_token
    if expected is not None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            response = Response("unauthorized\n", status=401, mimetype="text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="printbridge metrics"'
            return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(services.metrics, services.queue, services.synclog))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
