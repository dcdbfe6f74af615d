"""Local stand-in for the Gelato v4 order API, with control endpoints for tests.

Choices where gelato.md leaves the live API UNCONFIRMED:
- cancel of a draft answers 409 (drafts are deleted, not canceled);
- cancel of an already canceled order answers 200 `{}` again;
- cancel of a `failed` order answers 409;
- a timeout fault performs the call, then sleeps and answers 504: the client loses the
  answer but the change happened, which is what makes timeouts hard for the bridge.

Other fault rules: a fault with a status answers before touching state; a fault with only
a delay slows a call that then runs normally. Every /v4 request, refused ones included,
counts towards a status-after schedule. A status-on-cancel move happens when a cancel for
the order reaches the order book (not when a fault refused it), just before it is judged.
Each logged request says when it arrived and was answered, which fault (if any) shaped its
answer, and the Retry-After it carried.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from bridge.sandbox.faults import Fault, FaultPlan, parse_fault, parse_rates
from bridge.sandbox.gelato_input import (
    parse_create,
    parse_patch,
    parse_seed,
    parse_status,
    read_integer,
)
from bridge.sandbox.gelato_search import parse_search
from bridge.sandbox.gelato_state import GelatoState
from bridge.sandbox.replies import (
    SandboxError,
    json_response,
    logged_body,
    read_object,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

Handler = Callable[[Request, str], Response]


class GelatoIdConverter(BaseConverter):
    """Matches an order id up to a colon, so `<id>:cancel` routes apart from `<id>`."""

    regex = r"[^/:]+"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers)


def _fault_response(status: int, retry_after: float | None) -> Response:
    headers = {}
    if retry_after is not None:
        # Retry-After is whole seconds on the wire; round up so clients never retry early.
        headers["Retry-After"] = str(math.ceil(retry_after))
    return _error(status, HTTP_STATUS_CODES.get(status, "Error") + ".", headers)


class GelatoSandbox:
    """WSGI app answering /v4 order calls like Gelato and /_sandbox control calls for tests."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        # More accepted keys (one per merchant account), added with POST /_sandbox/keys.
        self.api_keys = {api_key}
        self.state = GelatoState()
        self.faults = FaultPlan()
        self._map = Map(
            [
                Rule("/v4/orders:search", methods=["POST"], endpoint="search"),
                Rule("/v4/orders", methods=["POST"], endpoint="create"),
                Rule("/v4/orders/<gid:order_id>", methods=["GET"], endpoint="get"),
                Rule("/v4/orders/<gid:order_id>", methods=["PATCH"], endpoint="patch"),
                Rule("/v4/orders/<gid:order_id>", methods=["DELETE"], endpoint="delete"),
                Rule("/v4/orders/<gid:order_id>:cancel", methods=["POST"], endpoint="cancel"),
                Rule("/_sandbox/orders", methods=["POST"], endpoint="seed"),
                Rule("/_sandbox/orders", methods=["GET"], endpoint="list"),
                Rule("/_sandbox/orders/<gid:order_id>/status", methods=["POST"], endpoint="move"),
                Rule(
                    "/_sandbox/orders/<gid:order_id>/status-after",
                    methods=["POST"],
                    endpoint="schedule",
                ),
                Rule(
                    "/_sandbox/orders/<gid:order_id>/status-on-cancel",
                    methods=["POST"],
                    endpoint="on_cancel",
                ),
                Rule("/_sandbox/faults", methods=["POST"], endpoint="faults"),
                Rule("/_sandbox/fault-rates", methods=["POST"], endpoint="rates"),
                Rule("/_sandbox/latency", methods=["POST"], endpoint="latency"),
                Rule("/_sandbox/requests", methods=["GET"], endpoint="requests"),
                Rule("/_sandbox/keys", methods=["POST"], endpoint="keys"),
                Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
            ],
            converters={"gid": GelatoIdConverter},
            strict_slashes=False,
        )
        self._api: dict[str, Handler] = {
            "search": lambda r, _: json_response(
                {"orders": self.state.search(parse_search(read_object(r)))}
            ),
            "create": lambda r, _: json_response(self.state.create(parse_create(read_object(r)))),
            "get": lambda _, oid: json_response(self.state.get(oid)),
            "patch": lambda r, oid: json_response(
                self.state.patch(oid, parse_patch(read_object(r)))
            ),
            "delete": lambda _, oid: json_response(self.state.delete(oid)),
            "cancel": lambda _, oid: json_response(self.state.cancel(oid)),
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        request = Request(environ)
        if request.path.startswith("/v4/"):
            response = self._serve_api(request)
        else:
            response = self._serve_control(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> tuple[str | None, str, Response | None]:
        try:
            endpoint, args = self._map.bind_to_environ(request.environ).match()
        except MethodNotAllowed:
            return None, "", _error(405, "Method not allowed.")
        except NotFound:
            return None, "", _error(404, "Not found.")
        return str(endpoint), str(args.get("order_id", "")), None

    def _serve_api(self, request: Request) -> Response:
        arrived = time.time()
        latency = self.faults.latency
        if latency:
            time.sleep(latency)
        endpoint, order_id, response = self._route(request)
        key = request.headers.get("X-API-KEY", "")
        fault, performed = None, None
        if not any(hmac.compare_digest(key.encode(), known.encode()) for known in self.api_keys):
            response = _error(401, "No valid API key provided.")
        elif response is None and endpoint is not None:
            fault = self.faults.next_fault(endpoint)
            response, performed = self._with_fault(fault, endpoint, request, order_id)
        assert response is not None
        retry_after = response.headers.get("Retry-After")
        body = logged_body(request)
        self.state.record(
            {
                "method": request.method,
                "path": request.path,
                "endpoint": endpoint,
                "status": response.status_code,
                # The store order the call is about, when one is known.
                "reference": self._reference_of(endpoint, order_id, body),
                "at": arrived,
                # When the answer left (for a timeout fault: long after the client gave up).
                "answered": time.time(),
                # What was injected into this answer, if anything (Fault.kind), and the
                # Retry-After it carried: a test checks the next call came no sooner.
                "fault": fault.kind if fault is not None else None,
                "retry_after": int(retry_after) if retry_after is not None else None,
                # The status the call was carried out with, which the client never saw when
                # a timeout fault answered it; otherwise the status answered, or None when a
                # fault refused it before it reached the order book.
                "performed": performed,
                "body": body,
                # Which account's key was used (a sandbox holds no real secret).
                "api_key": key,
            }
        )
        return response

    def _with_fault(
        self, fault: Fault | None, endpoint: str, request: Request, order_id: str
    ) -> tuple[Response, int | None]:
        """The answer to a /v4 call shaped by its fault, and the status it was performed with."""
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.timeout is not None:
            performed = self._call(endpoint, request, order_id).status_code
            time.sleep(fault.timeout)
            return _error(504, "Gateway Timeout."), performed
        if fault is not None and fault.status is not None:
            # Answer before touching state: a refused call must have no effect.
            return _fault_response(fault.status, fault.retry_after), None
        response = self._call(endpoint, request, order_id)
        return response, response.status_code

    def _reference_of(self, endpoint: str | None, order_id: str, body: object) -> str | None:
        if order_id:
            return self.state.reference_of(order_id)
        if not isinstance(body, dict):
            return None
        if endpoint == "search":
            wanted = body.get("orderReferenceIds")
            return str(wanted[0]) if isinstance(wanted, list) and len(wanted) == 1 else None
        if endpoint == "create" and isinstance(body.get("orderReferenceId"), str):
            return str(body["orderReferenceId"])
        return None

    def _call(self, endpoint: str, request: Request, order_id: str) -> Response:
        try:
            return self._api[endpoint](request, order_id)
        except SandboxError as exc:
            return _error(exc.status, exc.message)

    def _serve_control(self, request: Request) -> Response:
        endpoint, order_id, response = self._route(request)
        if response is not None or endpoint is None:
            return response or _error(404, "Not found.")
        try:
            return self._control(endpoint, request, order_id)
        except SandboxError as exc:
            return _error(exc.status, exc.message)

    def _control(self, endpoint: str, request: Request, order_id: str) -> Response:
        if endpoint == "list":
            reference = request.args.get("orderReferenceId")
            return json_response({"orders": self.state.orders(reference)})
        if endpoint == "requests":
            return json_response(self.state.requests())
        if endpoint == "reset":
            self.state.reset()
            self.faults.reset()
            return json_response({})
        body = read_object(request)
        if endpoint == "keys":
            key = body.get("key")
            if not isinstance(key, str) or not key:
                raise SandboxError(400, "key must be a non-empty string.")
            self.api_keys.add(key)
            return json_response({})
        if endpoint == "seed":
            return json_response({"orders": self.state.seed(parse_seed(body))})
        if endpoint == "move":
            return json_response(self.state.move(order_id, parse_status(body)))
        if endpoint == "schedule":
            after = read_integer(body.get("after_requests"), "after_requests", None, 0)
            return json_response(self.state.schedule(order_id, parse_status(body), after))
        if endpoint == "on_cancel":
            return json_response(self.state.move_on_cancel(order_id, parse_status(body)))
        if endpoint == "faults":
            fault, count = parse_fault(body)
            return json_response({"queued": self.faults.queue(fault, count)})
        if endpoint == "rates":
            rates, seed = parse_rates(body)
            self.faults.set_rates(rates, seed)
            return json_response({})
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise SandboxError(400, "seconds must be a number >= 0.")
        self.faults.set_latency(float(seconds))
        return json_response({})
