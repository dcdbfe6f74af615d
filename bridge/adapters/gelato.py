"""The Gelato order API (v4): search by reference, get, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from bridge.adapters.http import Exchange, RecordingTransport
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.retry import Answer, classify_status, parse_retry_after

SEARCH_LIMIT = 100


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


class GelatoClient:
    """GelatoApi over HTTP, every call recorded through the transport."""

    def __init__(self, transport: RecordingTransport, base_url: str, api_key: str) -> None:
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._headers = {"X-API-KEY": api_key, "Accept": "application/json"}

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
            page = (exchange.body or {}).get("orders") or []
            found.extend(
                GelatoOrder(
                    id=str(order["id"]),
                    status=str(order.get("fulfillmentStatus") or ""),
                    order_type=str(order.get("orderType") or "order"),
                    reference=str(order.get("orderReferenceId") or ""),
                )
                for order in page
                # The search matches the reference exactly, but a stray partial match must
                # never be cancelled in this order's name.
                if str(order.get("orderReferenceId")) == reference
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
        exchange = self._send("POST", f"/v4/orders/{quote(order_id, safe='')}:cancel")
        answer = classify_status(exchange.status)
        if answer in (Answer.OK, Answer.CONFLICT, Answer.NOT_FOUND):
            return answer
        self._raise_unless(exchange, Answer.OK)
        return answer

    def _send(self, method: str, path: str, payload: Any = None) -> Exchange:
        return self._transport.send(
            method, self._base_url + path, headers=self._headers, payload=payload
        )

    @staticmethod
    def _raise_unless(exchange: Exchange, expected: Answer) -> None:
        answer = classify_status(exchange.status)
        if answer is expected:
            return
        message = _message(exchange)
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


def _message(exchange: Exchange) -> str:
    body = exchange.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return "no message"
