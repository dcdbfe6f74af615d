"""Re-evaluate a finished action: preview from Gelato's current state, then a confirmed new run.

The preview runs the action's real logic (`bridge.cancel`, `bridge.reissue`) on a copy with
dry_run forced on and a storage that writes nothing, so Gelato is only read (search, get) and
neither the original action nor anything else changes. Its fingerprint digests what Gelato
showed. A confirmed run recomputes the preview first and is refused if the fingerprint moved;
otherwise it is a NEW action (same kind, `detail["reevaluates"]` naming the original) queued
like any other. A finished action is never run again in place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.adapters.storage import ActionRecord, ApiCall, Storage
from bridge.domain.actions import ActionKind, ActionState
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.wording import explain, parts_sentences
from bridge.services import Services
from bridge.support.records import Blocker, SupportRecords
from bridge.sync import RUNNERS


class _ReadOnlyStorage(Storage):
    """The sync log for a preview: reads as usual, every write the runners make is dropped."""

    def save_detail(self, action_id: str, detail: dict[str, Any], now: Any) -> None:
        """A preview keeps nothing."""

    def set_gelato_order_ids(self, shop: str, order_id: str, ids: list[str]) -> None:
        """A preview keeps nothing."""


@dataclass(frozen=True)
class Preview:
    """What re-running the action would do now, computed from Gelato's current state."""

    action: ActionRecord
    would_be: str | None = None
    summary: str = ""
    lines: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    problem: str | None = None
    problem_reason: str | None = None
    blocker: Blocker | None = None
    calls: list[ApiCall] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        """Whether a confirmed run may follow this preview."""
        return self.fingerprint is not None and self.blocker is None


@dataclass(frozen=True)
class Started:
    """A confirmed re-evaluation: the id of the new action."""

    action_id: str


def preview(services: Services, action: ActionRecord) -> Preview:
    """Compute, without changing anything, what a re-run of `action` would do now."""
    blocker = SupportRecords(services.storage.engine).blocker(action)
    calls: list[ApiCall] = []
    copy = replace(
        action,
        dry_run=True,
        detail=fresh_detail(action),
        state=ActionState.RUNNING,
        outcome=None,
        attempts=0,
    )
    run = RUNNERS.get(action.kind)
    access = services.shops.load(action.shop)
    try:
        if run is None:
            raise PermanentError("action.unknown_kind", f"cannot run {action.kind!r} actions")
        if access is None or not access.gelato_api_key:
            raise PermanentError("gelato.no_key", f"no Gelato API key is set for {action.shop}")
        readonly = replace(services, storage=_ReadOnlyStorage(services.storage.engine))
        result = run(readonly, copy, services.gelato(access, calls.append))
    except (TransientError, PermanentError) as error:
        return Preview(
            action, problem=error.message, problem_reason=error.reason, blocker=blocker, calls=calls
        )
    parts = result.detail.get("gelato_orders") or []
    would_be = result.detail.get("would_be") or result.outcome.value
    summary = explain(
        would_be,
        ActionState.DONE,
        parts,
        reason=result.reason,
        message=result.message,
        reference=action.reference,
    )
    return Preview(
        action,
        would_be=would_be,
        summary=summary,
        lines=parts_sentences(parts) if parts else [summary],
        fingerprint=_fingerprint(action, would_be, parts),
        blocker=blocker,
        calls=calls,
    )


def confirm(
    services: Services, action: ActionRecord, fingerprint: str, requested_by: str
) -> Started | Preview:
    """Start a new action redoing `action`, if Gelato still shows what the preview showed.

    Returns the fresh preview instead when the state changed, or when a run is not possible.
    """
    current = preview(services, action)
    if (
        not current.runnable
        or current.fingerprint is None
        or not hmac.compare_digest(current.fingerprint.encode(), fingerprint.encode())
    ):
        return current
    access = services.shops.get(action.shop)
    new_id = uuid.uuid4().hex
    detail = {**fresh_detail(action), "reevaluates": action.id, "requested_by": requested_by}
    SupportRecords(services.storage.engine).add_reevaluation(
        action,
        new_id,
        detail,
        dry_run=access.dry_run if access is not None else action.dry_run,
        now=services.clock(),
    )
    services.queue.enqueue_action(new_id)
    return Started(new_id)


def fresh_detail(action: ActionRecord) -> dict[str, Any]:
    """What a new run starts from: the request (the new address), nothing from earlier runs."""
    if action.kind == ActionKind.ADDRESS_UPDATE:
        return {"address": action.detail.get("address")}
    return {}


def _fingerprint(action: ActionRecord, would_be: str, parts: list[dict[str, Any]]) -> str:
    """A digest of what the preview saw at Gelato and concluded."""
    seen = sorted(
        (str(part.get("id")), str(part.get("status_found")), str(part.get("result")))
        for part in parts
    )
    text = json.dumps([action.id, action.kind, would_be, seen])
    return hashlib.sha256(text.encode()).hexdigest()
