"""POST /webhooks/shopify: verify, record, route, enqueue, answer — nothing more."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.adapters.metrics import Metrics
from bridge.app import services_of
from bridge.config import SHOP_DOMAIN
from bridge.domain.errors import PayloadError, Unavailable
from bridge.intake import Incoming
from bridge.logs import bind, log_context
from bridge.metrics import count_delivery
from bridge.services import Services
from webhooks.admission import RETRY_AFTER_SECONDS
from webhooks.headers import WebhookHeaders, read_headers
from webhooks.routing import route_for, topic_label
from webhooks.signature import verify

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__)

# (status, the result counted in printbridge_webhook_deliveries, the body)
Answer = tuple[int, str, str]


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
    """Receive one store webhook delivery, and count it by topic and result."""
    services = services_of(current_app)
    headers = read_headers(request.headers)
    with log_context():
        status, result, reason = _receive(services, headers)
    count_delivery(services.metrics, topic_label(headers.topic), result)
    if status == 503:
        return _unavailable(reason)
    return _answer(status, reason)


def _receive(services: Services, headers: WebhookHeaders) -> Answer:
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return 413, "too_large", "body too large"
    if len(body) > services.settings.max_body_bytes:
        return 413, "too_large", "body too large"

    if not verify(body, headers.hmac, services.settings.webhook_secrets):
        return 401, "unauthorized", "invalid signature"
    if not (headers.topic and headers.shop and headers.webhook_id):
        return 400, "bad_headers", "missing topic, shop domain or webhook id header"
    if not SHOP_DOMAIN.match(headers.shop):
        return 400, "bad_headers", "malformed shop domain"
    bind(delivery_id=headers.webhook_id, shop=headers.shop)

    route = route_for(headers.topic)
    if route is None:
        # Counted under the topic `other`; the log names it (a subscription to drop, perhaps).
        log.info("topic %s acknowledged and ignored: printbridge does not act on it", headers.topic)
        return 200, "ignored_topic", ""

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
        recorded = route.receive(services, incoming)
    except PayloadError as error:
        return 400, "rejected", error.reason
    except Unavailable as error:
        return 503, "unavailable", error.reason
    return 200, "duplicate" if recorded.duplicate else recorded.result, ""


def refusal_counter(metrics: Metrics) -> Callable[[WSGIEnvironment], None]:
    """What the admission gate calls for each webhook it refuses: count it as `shed`."""

    def count(environ: WSGIEnvironment) -> None:
        topic = read_headers(EnvironHeaders(environ)).topic
        count_delivery(metrics, topic_label(topic), "shed")

    return count
