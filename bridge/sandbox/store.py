"""Local stand-in for the store admin GraphQL API, with control endpoints for tests.

Only the operations the bridge uses are recognised, by regex on the query text:
tagsAdd, metafieldsSet, webhookSubscriptionCreate and the webhookSubscriptions query.
Arguments are read from variables named like the arguments (`id`, `tags`, `metafields`,
`topic`, `webhookSubscription`, `topics`); inline literal arguments are not parsed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from bridge.sandbox.replies import JsonObject, SandboxError, json_response, read_object
from bridge.sandbox.store_input import VariableError
from bridge.sandbox.store_state import FAULT_KINDS, StoreFault, StoreState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# Shopify's verbatim 401 text; it names a password but holds none.
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105
MISSING_QUERY = "Required parameter missing or invalid"
MUTATIONS = {
    name: re.compile(rf"\b{name}\s*\(")
    for name in ("tagsAdd", "metafieldsSet", "webhookSubscriptionCreate")
}
QUERIES = {"webhookSubscriptions": re.compile(r"\bwebhookSubscriptions\b")}
SUPPORTED = ", ".join([*MUTATIONS, *QUERIES])


def _cost(actual: int | None, available: int) -> JsonObject:
    return {
        "cost": {
            "requestedQueryCost": 10,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": 100.0,
            },
        }
    }


THROTTLED: JsonObject = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ],
    "extensions": _cost(None, 0),
}


def _errors(message: str, code: str | None = None) -> Response:
    error: JsonObject = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    # GraphQL reports query-level errors with HTTP 200, as Shopify does.
    return json_response({"errors": [error]})


def operation_of(query: str) -> tuple[str | None, str | None]:
    """Name the one supported operation in a query text, or explain why there is none."""
    found = [name for name, pattern in MUTATIONS.items() if pattern.search(query)]
    if len(found) > 1:
        return None, f"The sandbox handles one mutation per request; found {', '.join(found)}."
    if not found:
        found = [name for name, pattern in QUERIES.items() if pattern.search(query)]
    if not found:
        return None, f"Unsupported operation; the sandbox knows {SUPPORTED}."
    return found[0], None


class StoreSandbox:
    """WSGI app answering store-admin GraphQL calls and /_sandbox control calls for tests."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.state = StoreState(tokens or {})
        self._map = Map(
            [
                Rule(
                    "/shops/<shop>/admin/api/<version>/graphql.json",
                    methods=["POST"],
                    endpoint="graphql",
                ),
                Rule("/_sandbox/shops", methods=["POST"], endpoint="shops"),
                Rule("/_sandbox/calls", methods=["GET"], endpoint="calls"),
                Rule("/_sandbox/orders/<shop>/<order_id>", methods=["GET"], endpoint="order"),
                Rule("/_sandbox/faults", methods=["POST"], endpoint="faults"),
                Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
            ],
            strict_slashes=False,
        )
        self._operations: dict[str, Callable[[str, JsonObject], JsonObject]] = {
            "tagsAdd": self.state.tags_add,
            "metafieldsSet": self.state.metafields_set,
            "webhookSubscriptionCreate": self.state.subscription_create,
            "webhookSubscriptions": self.state.subscriptions,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        request = Request(environ)
        try:
            endpoint, args = self._map.bind_to_environ(environ).match()
        except MethodNotAllowed:
            response = json_response({"errors": "Method not allowed"}, 405)
        except NotFound:
            response = json_response({"errors": "Not Found"}, 404)
        else:
            try:
                response = self._serve(str(endpoint), request, args)
            except SandboxError as exc:
                response = json_response({"errors": exc.message}, exc.status)
        return response(environ, start_response)

    def _serve(self, endpoint: str, request: Request, args: Mapping[str, Any]) -> Response:
        if endpoint == "graphql":
            return self._graphql(request, str(args["shop"]))
        if endpoint == "calls":
            return json_response(self.state.calls())
        if endpoint == "order":
            return json_response(self.state.order_view(args["shop"], args["order_id"]))
        if endpoint == "reset":
            self.state.reset()
            return json_response({})
        body = read_object(request)
        if endpoint == "shops":
            shop, token = body.get("shop"), body.get("token")
            if not isinstance(shop, str) or not shop or not isinstance(token, str) or not token:
                raise SandboxError(400, "shop and token are required strings.")
            self.state.register(shop, token)
            return json_response({})
        self.state.queue_fault(_parse_fault(body))
        return json_response({})

    def _graphql(self, request: Request, shop: str) -> Response:
        arrived = time.time()
        try:
            body: Any = json.loads(request.get_data(cache=True) or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        query = body.get("query") if isinstance(body, dict) else None
        variables = body.get("variables") if isinstance(body, dict) else None
        operation = operation_of(query)[0] if isinstance(query, str) else None
        response = self._answer(request, shop, query, variables)
        self.state.record(
            {
                "shop": shop,
                "operation": operation,
                "variables": variables,
                "at": arrived,
                "status": response.status_code,
            }
        )
        return response

    def _answer(self, request: Request, shop: str, query: Any, variables: Any) -> Response:
        if not self.state.token_ok(shop, request.headers.get("X-Shopify-Access-Token", "")):
            return json_response({"errors": INVALID_TOKEN}, 401)
        fault = self.state.next_fault()
        if fault is not None:
            return _fault_response(fault)
        if not isinstance(query, str) or not query.strip():
            return json_response(
                {"errors": {"query": "Required parameter missing or invalid"}}, 400
            )
        if variables is not None and not isinstance(variables, dict):
            return _errors("Variables must be a JSON object.", "INVALID_VARIABLE")
        operation, problem = operation_of(query)
        if operation is None:
            return _errors(problem or "Unsupported operation.")
        try:
            payload = self._operations[operation](shop, variables or {})
        except VariableError as exc:
            return _errors(str(exc), "INVALID_VARIABLE")
        return json_response({"data": {operation: payload}, "extensions": _cost(10, 1990)})


def _fault_response(fault: StoreFault) -> Response:
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.kind == "throttled":
        return json_response(THROTTLED, 200, headers)
    if fault.kind == "429":
        # Retry-After is always sent on a 429, defaulting to one second like the REST API.
        headers.setdefault("Retry-After", "1")
        return json_response({"errors": "Exceeded rate limit. Retry later."}, 429, headers)
    message = "Internal error. Looks like something went wrong on our end."
    return json_response({"errors": [{"message": message}]}, 500, headers)


def _parse_fault(body: JsonObject) -> StoreFault:
    kind = str(body.get("kind"))
    if kind not in FAULT_KINDS:
        raise SandboxError(400, f"kind must be one of {sorted(FAULT_KINDS)}.")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise SandboxError(400, "count must be a positive integer.")
    retry_after = body.get("retry_after")
    if retry_after is not None and (
        isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0
    ):
        raise SandboxError(400, "retry_after must be a whole number of seconds >= 0.")
    return StoreFault(kind=kind, remaining=count, retry_after=retry_after)
