"""printbridge without its storage: the floor under any way of recording a delivery.

Served by gunicorn with the same settings as the other two apps (`bench.floor_app:app`), this is
printbridge's own app from `create_app()`, with the one step that records and queues a delivery
taken out: each request is read, its headers checked, its signature verified, its event parsed,
its shop looked up and its action planned exactly as printbridge does, and it is answered 200
without a word to SQL or Redis. `python bench/webhooks.py` measures it beside the other two in
phase A (unless `--skip-floor`): what printbridge would serve if recording and queueing cost
nothing at all.

Never serve this: it acknowledges deliveries it does not keep.
"""

from __future__ import annotations

from bridge import intake
from bridge.adapters.recording import Recorded
from bridge.app import create_app
from bridge.domain.events import parse_order_event
from bridge.services import Services


def _plan_only(services: Services, incoming: intake.Incoming, plan: intake.Plan) -> Recorded:
    """Everything intake does before the delivery's transaction, and nothing after."""
    event = parse_order_event(intake._parse_json(incoming.body))
    access = services.shops.get(incoming.shop)
    if access is None or not access.installed:
        return Recorded("ignored", None, duplicate=False, enqueue=False)
    intent = plan(event, access, incoming.received_at)
    intake.delivery_of(incoming, event, "recorded", None)
    result = "ignored" if isinstance(intent, intake.Skip) else "accepted"
    return Recorded(result, None, duplicate=False, enqueue=False)


intake._receive = _plan_only  # the measured substitution, in this process only
app = create_app()
