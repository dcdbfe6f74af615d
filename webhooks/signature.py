"""Store webhook signatures: base64 HMAC-SHA256 of the raw body, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(body: bytes, secret: str) -> str:
    """The signature the store sends for `body` under `secret`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """Whether `signature` signs `body` under any of `secrets` (current, then previous)."""
    if not signature:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except ValueError:
        return False
    # Every secret is tried, even after a match, so timing tells nothing about which one.
    matches = [
        hmac.compare_digest(hmac.new(secret.encode(), body, hashlib.sha256).digest(), given)
        for secret in secrets
        if secret
    ]
    return any(matches)
