"""Make API bodies safe to keep: secrets masked, size bounded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

REDACTED = "[redacted]"
BODY_LIMIT = 16 * 1024
_SECRET_KEY = re.compile(
    r"(api[-_]?key|token|secret|password|authorization|access[-_]?key)", re.IGNORECASE
)


def redact_body(body: str | bytes | None, secrets: Iterable[str] = ()) -> str | None:
    """Return the body with secret-looking fields and known secret values masked, truncated."""
    if body is None:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    with suppress(ValueError):  # not JSON: kept as text, known secrets still masked
        text = json.dumps(_mask(json.loads(text)), ensure_ascii=False)
    return truncate(redact_text(text, secrets))


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every occurrence of each secret masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def truncate(text: str, limit: int = BODY_LIMIT) -> str:
    """Cut text to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} characters]"


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if _SECRET_KEY.search(str(key)) else _mask(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return value
