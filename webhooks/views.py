"""POST /webhooks/shopify: verify, record, route, enqueue, answer — nothing more."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.app import services_of
from bridge.config import SHOP_DOMAIN
from bridge.domain.errors import PayloadError, Unavailable
from bridge.intake import Incoming
from webhooks.admission import RETRY_AFTER_SECONDS
from webhooks.headers import read_headers
from webhooks.routing import route_for
from webhooks.signature import verify

blueprint = Blueprint("webhooks", __name__)


def _answer(status: int, reason: str = "") -> Response:
    # Empty bodies: the store reads only the status, and nothing here should echo input.
    return Response(reason, status=status, mimetype="text/plain")


def _unavailable(reason: str) -> Response:
    # The database or Redis is down: nothing was queued, and the store's retry is the way
    # this delivery still gets done. Retry-After as the admission gate's refusals say it.
    answer = _answer(503, reason)
    answer.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return answer


@blueprint.post("/webhooks/shopify")
def receive_shopify() -> Response:
    """Receive one store webhook delivery."""
    services = services_of(current_app)
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _answer(413, "body too large")
    if len(body) > services.settings.max_body_bytes:
        return _answer(413, "body too large")

    headers = read_headers(request.headers)
    if not verify(body, headers.hmac, services.settings.webhook_secrets):
        services.queue.count("webhook.unauthorized")
        return _answer(401, "invalid signature")
    if not (headers.topic and headers.shop and headers.webhook_id):
        return _answer(400, "missing topic, shop domain or webhook id header")
    if not SHOP_DOMAIN.match(headers.shop):
        return _answer(400, "malformed shop domain")

    route = route_for(headers.topic)
    if route is None:
        services.queue.count(f"webhook.ignored_topic.{headers.topic}")
        return _answer(200)

    incoming = Incoming(
        shop=headers.shop,
        webhook_id=headers.webhook_id,
        event_id=headers.event_id,
        topic=headers.topic,
        api_version=headers.api_version,
        triggered_at=headers.triggered_at,
        received_at=services.clock(),
        body=body,
    )
    try:
        route.receive(services, incoming)
    except PayloadError as error:
        return _answer(400, error.reason)
    except Unavailable as error:
        return _unavailable(error.reason)
    return _answer(200)
