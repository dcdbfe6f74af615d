"""JSON request and response helpers shared by the sandbox WSGI apps."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

JsonObject = dict[str, Any]


class SandboxError(Exception):
    """A request the sandbox refuses, carrying the HTTP status and message to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(
    payload: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Build a JSON response with the given status and extra headers."""
    return Response(
        json.dumps(payload),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )


def read_json(request: Request) -> Any:
    """Parse the request body as JSON, treating an empty body as an empty object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SandboxError(400, "Request body is not valid JSON.") from exc


def read_object(request: Request) -> JsonObject:
    """Parse the request body as a JSON object or refuse it with 400."""
    body = read_json(request)
    if not isinstance(body, dict):
        raise SandboxError(400, "Request body must be a JSON object.")
    return body


def logged_body(request: Request) -> Any:
    """Return the body as JSON for a request log, or as text when it is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")
