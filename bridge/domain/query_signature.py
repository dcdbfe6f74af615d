"""The store's signature on OAuth query strings (install and callback), as Shopify computes it.

Shopify signs every parameter but `hmac` (and the legacy `signature`): sorted, each written
`key=value` with `%`, `&` and `=` escaped so that no value can forge a separator, joined with
`&`, then hex HMAC-SHA256 under the app's client secret (shopify_python_api's rule, which agrees
with the other official libraries for every parameter the store sends).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

UNSIGNED = frozenset({"hmac", "signature"})


class QueryProblem(ValueError):
    """Why a signed query is refused, as a machine-readable reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signed_message(params: Mapping[str, Sequence[str]]) -> str:
    """The text the store signs for these parameters (each name with its list of values).

    A name ending in `[]` is signed once, without the brackets, with its values as a JSON list
    (`ids=["1", "2"]`); any other name must occur once.
    """
    pairs = []
    for key, values in params.items():
        if key in UNSIGNED:
            continue
        if key.endswith("[]"):
            name, value = key[:-2], json.dumps([str(v) for v in values])
        elif len(values) == 1:
            name, value = key, values[0]
        else:
            raise QueryProblem("oauth.repeated_parameter")
        name = name.replace("%", "%25").replace("=", "%3D")
        pairs.append(f"{name}={value.replace('%', '%25')}".replace("&", "%26"))
    return "&".join(sorted(pairs))


def sign_query(params: Mapping[str, Sequence[str]], secret: str) -> str:
    """The hex `hmac` the store sends with these parameters."""
    message = signed_message(params).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_query(params: Mapping[str, Sequence[str]], secrets: Iterable[str]) -> None:
    """Raise QueryProblem unless the query's `hmac` signs it under one of `secrets`."""
    given = params.get("hmac") or []
    if len(given) != 1 or not given[0]:
        raise QueryProblem("oauth.missing_hmac")
    expected = [sign_query(params, secret) for secret in secrets if secret]
    # Every secret is compared, even after a match, so timing tells nothing about which one.
    signature = given[0].lower().encode()
    matches = [hmac.compare_digest(candidate.encode(), signature) for candidate in expected]
    if not any(matches):
        raise QueryProblem("oauth.bad_hmac")


def check_timestamp(params: Mapping[str, Sequence[str]], now: datetime, tolerance: float) -> None:
    """Raise QueryProblem unless `timestamp` is within `tolerance` seconds of `now`, either way."""
    given = params.get("timestamp") or []
    try:
        stamp = int(given[0]) if len(given) == 1 else None
    except ValueError:
        stamp = None
    if stamp is None:
        raise QueryProblem("oauth.missing_timestamp")
    if abs(now.timestamp() - stamp) > tolerance:
        raise QueryProblem("oauth.stale_timestamp")
