"""printbridge without its storage: the floor under any way of recording a delivery.

Served by gunicorn with the same settings as the other two apps (`bench.floor_app:app`), this is
printbridge's own app from `create_app()`, with the one step that records and queues a delivery
taken out: each request runs printbridge's own view and intake (the headers checked, the
signature verified, the event parsed, the shop looked up, the action planned), except that
recording the delivery keeps nothing, and it is answered 200 without a word to SQL or Redis.
`python bench/webhooks.py` measures it beside the other two in phase A (unless `--skip-floor`):
what printbridge would serve if recording and queueing cost nothing at all.

Never serve this: it acknowledges deliveries it does not keep.
"""

from __future__ import annotations

from bridge.adapters.recording import Intent, NewDelivery, Recorded
from bridge.app import create_app, services_of


def _recorded_nowhere(delivery: NewDelivery, intent: Intent | None) -> Recorded:
    """What recording would answer for a new delivery, with nothing written anywhere."""
    if intent is None:
        return Recorded(delivery.result, None, duplicate=False, enqueue=False)
    return Recorded("accepted", None, duplicate=False, enqueue=False)


app = create_app()
# The measured substitution, in this process only: intake runs as in printbridge up to the one
# call that records the delivery, which keeps nothing; with no action recorded, none is queued.
services_of(app).storage.record_delivery = _recorded_nowhere  # type: ignore[method-assign]
