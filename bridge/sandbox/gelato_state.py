"""In-memory order book and request log of the Gelato sandbox, guarded by one lock."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

from bridge.sandbox.gelato_input import PatchRequest
from bridge.sandbox.gelato_orders import (
    CANCELLABLE,
    PAST_CUT_OFF,
    PRINTED_MESSAGE,
    NewOrder,
    build_order,
    now_iso,
    set_status,
    summary,
)
from bridge.sandbox.gelato_search import SearchFilter
from bridge.sandbox.replies import JsonObject, SandboxError

NOT_FOUND = "Order not found."
DRAFT_MOVE = "Convert the draft with PATCH before moving its status."


@dataclass
class _Scheduled:
    order_id: str
    status: str
    remaining: int


class GelatoState:
    """Orders keyed by Gelato id, the /v4 request log and scheduled status moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, JsonObject] = {}
        # orderReferenceId -> the ids of its orders: a search by reference (what printbridge
        # sends) looks at those alone, so it stays fast with thousands of orders seeded.
        self._by_reference: dict[str, set[str]] = {}
        self._log: list[JsonObject] = []
        self._scheduled: list[_Scheduled] = []
        # Order id -> the status it moves to when a cancel for it reaches the order book.
        self._on_cancel: dict[str, str] = {}
        # Order id -> orderReferenceId of every order ever stored, deleted drafts included.
        self._references: dict[str, str] = {}

    def _order(self, order_id: str) -> JsonObject:
        order = self._orders.get(order_id)
        if order is None:
            raise SandboxError(404, NOT_FOUND)
        return order

    def _add(self, order: JsonObject) -> None:
        self._orders[order["id"]] = order
        self._references[order["id"]] = order["orderReferenceId"]
        self._by_reference.setdefault(order["orderReferenceId"], set()).add(order["id"])

    def _remove(self, order_id: str) -> None:
        order = self._orders.pop(order_id)
        self._by_reference[order["orderReferenceId"]].discard(order_id)

    def _candidates(self, search: SearchFilter) -> list[JsonObject]:
        if search.order_reference_ids is None:
            return list(self._orders.values())
        ids = set().union(*(self._by_reference.get(r, ()) for r in search.order_reference_ids))
        return [self._orders[order_id] for order_id in ids]

    def search(self, search: SearchFilter) -> list[JsonObject]:
        """Return one page of search results, ordered by createdAt then id."""
        with self._lock:
            found = sorted(
                (order for order in self._candidates(search) if search.matches(order)),
                key=lambda order: (order["createdAt"], order["id"]),
            )
            page = found[search.offset : search.offset + search.limit]
            return [summary(order) for order in page]

    def get(self, order_id: str) -> JsonObject:
        """Return a copy of one full order."""
        with self._lock:
            return copy.deepcopy(self._order(order_id))

    def cancel(self, order_id: str) -> JsonObject:
        """Cancel an order that has not reached production, per gelato.md §2."""
        with self._lock:
            order = self._order(order_id)
            moved = self._on_cancel.pop(order_id, None)
            if moved is not None and order["fulfillmentStatus"] != "canceled":
                # Production got there first: the cancel meets the order in its new status.
                set_status(order, moved)
            status = order["fulfillmentStatus"]
            if order["orderType"] == "draft":
                # Drafts are removed with DELETE (gelato.md §4.2); 409 because the state forbids it.
                raise SandboxError(409, "A draft order cannot be canceled; delete it instead.")
            if status == "canceled":
                # UNCONFIRMED (gelato.md §2.3): repeat cancels are assumed to succeed again.
                return {}
            item_statuses = {item["fulfillmentStatus"] for item in order["items"]}
            if status in PAST_CUT_OFF or item_statuses & PAST_CUT_OFF:
                raise SandboxError(409, PRINTED_MESSAGE)
            if status not in CANCELLABLE:
                raise SandboxError(
                    409, f"The order cannot be canceled, because it is in '{status}' status."
                )
            set_status(order, "canceled")
            # The success body is undocumented (gelato.md §2.1); an empty object is the safe guess.
            return {}

    def create(self, spec: NewOrder) -> JsonObject:
        """Store a new order or draft and return it."""
        order = build_order(spec)
        with self._lock:
            self._add(order)
            return copy.deepcopy(order)

    def patch(self, order_id: str, patch: PatchRequest) -> JsonObject:
        """Convert a draft into a regular order, keeping only the listed items if given."""
        with self._lock:
            order = self._order(order_id)
            if order["orderType"] != "draft":
                raise SandboxError(
                    409, "Only orders having orderType equal to 'draft' can be patched."
                )
            if patch.items is not None:
                order["items"] = self._kept_items(order, patch.items)
            order["orderType"] = "order"
            order["orderedAt"] = now_iso()
            set_status(order, "created")
            return copy.deepcopy(order)

    @staticmethod
    def _kept_items(order: JsonObject, wanted: list[JsonObject]) -> list[JsonObject]:
        by_id = {item["id"]: item for item in order["items"]}
        kept = []
        for index, entry in enumerate(wanted):
            item = by_id.get(entry["id"])
            if item is None:
                raise SandboxError(400, f"items[{index}].id does not match an item of the order.")
            if entry["files"] is not None:
                item = {**item, "files": entry["files"]}
            kept.append(item)
        if not kept:
            raise SandboxError(400, "items must keep at least one item.")
        return kept

    def delete(self, order_id: str) -> JsonObject:
        """Remove a draft order."""
        with self._lock:
            order = self._order(order_id)
            if order["orderType"] != "draft":
                raise SandboxError(
                    409, "Only orders having orderType equal to 'draft' can be deleted."
                )
            self._remove(order_id)
            return {}

    def seed(self, specs: list[NewOrder]) -> list[JsonObject]:
        """Store the parts of one (possibly split) order, connecting them to each other."""
        orders = [build_order(spec) for spec in specs]
        ids = [order["id"] for order in orders]
        for order in orders:
            order["connectedOrderIds"] = [other for other in ids if other != order["id"]]
        with self._lock:
            for order in orders:
                self._add(order)
            return copy.deepcopy(orders)

    def move(self, order_id: str, status: str) -> JsonObject:
        """Move an order and its items to a status, as production would."""
        with self._lock:
            order = self._order(order_id)
            if order["orderType"] == "draft":
                raise SandboxError(409, DRAFT_MOVE)
            set_status(order, status)
            return copy.deepcopy(order)

    def schedule(self, order_id: str, status: str, after_requests: int) -> JsonObject:
        """Move an order once `after_requests` more /v4 requests have been served."""
        if after_requests == 0:
            self.move(order_id, status)
        else:
            with self._lock:
                if self._order(order_id)["orderType"] == "draft":
                    raise SandboxError(409, DRAFT_MOVE)
                self._scheduled.append(_Scheduled(order_id, status, after_requests))
        return {"orderId": order_id, "status": status, "afterRequests": after_requests}

    def move_on_cancel(self, order_id: str, status: str) -> JsonObject:
        """Move an order to a status just before the next cancel for it is carried out.

        Searches and gets still show the old status, so the bridge sends the cancel and meets
        the new status only in Gelato's answer (a 409 when it is past the cut). A cancel that
        a fault refuses never reaches the order book and does not trigger the move.
        """
        with self._lock:
            if self._order(order_id)["orderType"] == "draft":
                raise SandboxError(409, DRAFT_MOVE)
            self._on_cancel[order_id] = status
        return {"orderId": order_id, "status": status, "on": "cancel"}

    def reference_of(self, order_id: str) -> str | None:
        """The orderReferenceId of an order stored now or before (a deleted draft's too)."""
        with self._lock:
            return self._references.get(order_id)

    def record(self, entry: JsonObject) -> None:
        """Log a served /v4 request and apply the status moves that were waiting for it."""
        with self._lock:
            self._log.append(entry)
            for waiting in list(self._scheduled):
                waiting.remaining -= 1
                if waiting.remaining > 0:
                    continue
                self._scheduled.remove(waiting)
                order = self._orders.get(waiting.order_id)
                # A canceled or deleted order is never produced, so the move no longer applies.
                if order is not None and order["fulfillmentStatus"] != "canceled":
                    set_status(order, waiting.status)

    def requests(self) -> list[JsonObject]:
        """Return a copy of the /v4 request log."""
        with self._lock:
            return copy.deepcopy(self._log)

    def orders(self, reference: str | None) -> list[JsonObject]:
        """Return every full order, or those sharing one orderReferenceId."""
        with self._lock:
            found = [
                order
                for order in self._orders.values()
                if reference is None or order["orderReferenceId"] == reference
            ]
            found.sort(key=lambda order: (order["createdAt"], order["id"]))
            return copy.deepcopy(found)

    def reset(self) -> None:
        """Forget every order, logged request and scheduled or pending move."""
        with self._lock:
            self._orders.clear()
            self._by_reference.clear()
            self._log.clear()
            self._scheduled.clear()
            self._on_cancel.clear()
            self._references.clear()
