"""The Gelato order API (v4): search by reference, get, cancel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from bridge.adapters.http import Exchange, RecordingTransport
from bridge.adapters.redaction import redact_text
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.retry import Answer, classify_status, parse_retry_after

SEARCH_LIMIT = 100


@dataclass(frozen=True)
class KeyCheck:
    """Gelato's answer to a harmless call made with a key: accepted, or its status and message."""

    accepted: bool
    status: int
    message: str


@dataclass(frozen=True)
class GelatoOrder:
    """A Gelato order as a search lists it."""

    id: str
    status: str
    order_type: str
    reference: str


class GelatoApi(Protocol):
    """What printbridge asks of Gelato."""

    def find_orders(self, reference: str) -> list[GelatoOrder]:
        """Every Gelato order (each part of a split order) carrying this reference."""
        ...

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        """The full order, or None if Gelato does not know it."""
        ...

    def cancel(self, order_id: str) -> Answer:
        """Ask Gelato to cancel: OK, CONFLICT (too late) or NOT_FOUND."""
        ...

    def create_draft(self, order: dict[str, Any]) -> dict[str, Any]:
        """Create a draft order (nothing is produced until it is made a real order)."""
        ...

    def confirm_draft(self, order_id: str) -> Answer:
        """Turn a draft into a real order: OK, CONFLICT (not a draft) or NOT_FOUND."""
        ...

    def delete_draft(self, order_id: str) -> Answer:
        """Delete a draft: OK, CONFLICT (not a draft) or NOT_FOUND."""
        ...

    def check_key(self) -> KeyCheck:
        """Try the key with a search for one order, which changes nothing."""
        ...


class GelatoClient:
    """GelatoApi over HTTP, every call recorded through the transport."""

    def __init__(self, transport: RecordingTransport, base_url: str, api_key: str) -> None:
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._headers = {"X-API-KEY": api_key, "Accept": "application/json"}
        self._api_key = api_key

    def find_orders(self, reference: str) -> list[GelatoOrder]:
        found: list[GelatoOrder] = []
        offset = 0
        while True:
            exchange = self._send(
                "POST",
                "/v4/orders:search",
                {"orderReferenceIds": [reference], "limit": SEARCH_LIMIT, "offset": offset},
            )
            self._raise_unless(exchange, Answer.OK)
            page = _orders_of(exchange)
            found.extend(
                order
                for order in page
                # The search matches the reference exactly, but a stray partial match must
                # never be cancelled in this order's name.
                if order.reference == reference
            )
            if len(page) < SEARCH_LIMIT:
                return found
            offset += SEARCH_LIMIT

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        exchange = self._send("GET", f"/v4/orders/{quote(order_id, safe='')}")
        if classify_status(exchange.status) is Answer.NOT_FOUND:
            return None
        self._raise_unless(exchange, Answer.OK)
        return exchange.body if isinstance(exchange.body, dict) else {}

    def cancel(self, order_id: str) -> Answer:
        return self._answer(self._send("POST", f"/v4/orders/{quote(order_id, safe='')}:cancel"))

    def create_draft(self, order: dict[str, Any]) -> dict[str, Any]:
        exchange = self._send("POST", "/v4/orders", {**order, "orderType": "draft"})
        self._raise_unless(exchange, Answer.OK)
        body = exchange.body
        if not isinstance(body, dict) or not body.get("id"):
            raise PermanentError("gelato.bad_answer", "Gelato's create answer has no order id")
        return body

    def confirm_draft(self, order_id: str) -> Answer:
        path = f"/v4/orders/{quote(order_id, safe='')}"
        return self._answer(self._send("PATCH", path, {"orderType": "order"}))

    def delete_draft(self, order_id: str) -> Answer:
        return self._answer(self._send("DELETE", f"/v4/orders/{quote(order_id, safe='')}"))

    def check_key(self) -> KeyCheck:
        exchange = self._send("POST", "/v4/orders:search", {"limit": 1})
        if classify_status(exchange.status) is Answer.OK:
            return KeyCheck(True, exchange.status, "key accepted")
        return KeyCheck(False, exchange.status, redact_text(_message(exchange), (self._api_key,)))

    def _answer(self, exchange: Exchange) -> Answer:
        answer = classify_status(exchange.status)
        if answer in (Answer.OK, Answer.CONFLICT, Answer.NOT_FOUND):
            return answer
        self._raise_unless(exchange, Answer.OK)
        return answer

    def _send(self, method: str, path: str, payload: Any = None) -> Exchange:
        return self._transport.send(
            method, self._base_url + path, headers=self._headers, payload=payload
        )

    def _raise_unless(self, exchange: Exchange, expected: Answer) -> None:
        answer = classify_status(exchange.status)
        if answer is expected:
            return
        # Gelato's text goes into the sync log and onto the store order: never with the key.
        message = redact_text(_message(exchange), (self._api_key,))
        if answer is Answer.TRANSIENT:
            reason = "gelato.rate_limited" if exchange.status == 429 else "gelato.unavailable"
            raise TransientError(
                reason,
                f"Gelato answered {exchange.status}: {message}",
                retry_after=parse_retry_after(exchange.headers.get("Retry-After")),
            )
        reason = {401: "gelato.unauthorized", 403: "gelato.forbidden"}.get(
            exchange.status, "gelato.rejected"
        )
        raise PermanentError(reason, f"Gelato answered {exchange.status}: {message}")


class FencedGelato:
    """A GelatoApi that confirms, before each change, that its job may still make it.

    `confirm` raises (a TransientError) when the job's hold on the order lapsed; reads go
    through unchecked, as they change nothing.
    """

    def __init__(self, api: GelatoApi, confirm: Callable[[], None]) -> None:
        self._api = api
        self._confirm = confirm

    def find_orders(self, reference: str) -> list[GelatoOrder]:
        return self._api.find_orders(reference)

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        return self._api.get_order(order_id)

    def cancel(self, order_id: str) -> Answer:
        self._confirm()
        return self._api.cancel(order_id)

    def create_draft(self, order: dict[str, Any]) -> dict[str, Any]:
        self._confirm()
        return self._api.create_draft(order)

    def confirm_draft(self, order_id: str) -> Answer:
        self._confirm()
        return self._api.confirm_draft(order_id)

    def delete_draft(self, order_id: str) -> Answer:
        self._confirm()
        return self._api.delete_draft(order_id)

    def check_key(self) -> KeyCheck:
        return self._api.check_key()


def _orders_of(exchange: Exchange) -> list[GelatoOrder]:
    """The orders of a search answer; PermanentError when the answer is not one."""
    body = exchange.body
    orders = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(orders, list) or not all(
        isinstance(order, dict) and order.get("id") for order in orders
    ):
        raise PermanentError("gelato.bad_answer", "Gelato's search answer has no list of orders")
    return [
        GelatoOrder(
            id=str(order["id"]),
            status=str(order.get("fulfillmentStatus") or ""),
            order_type=str(order.get("orderType") or "order"),
            reference=str(order.get("orderReferenceId") or ""),
        )
        for order in orders
    ]


def _message(exchange: Exchange) -> str:
    body = exchange.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return "no message"
