"""In-memory codes, tokens, queued failures and request log of the OAuth sandbox."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.sandbox.faults import CountedFaults
from bridge.sandbox.replies import JsonObject, SandboxError

CODE_LIFETIME_SECONDS = 600
SCOPES = "read_orders,write_orders"


@dataclass
class OAuthFault:
    """A failure for the next `remaining` token requests: an HTTP status and OAuth error code."""

    status: int
    error: str
    remaining: int


@dataclass
class _Grant:
    shop: str
    access_token: str
    refresh_token: str | None
    previous_refresh_token: str | None = None


class OAuthState:
    """Codes issued on approval, the tokens they were exchanged for, and what was asked."""

    def __init__(self, on_token: Callable[[str, str], None] | None) -> None:
        self._lock = threading.Lock()
        self._on_token = on_token
        self._codes: dict[str, tuple[str, float]] = {}
        self._grants: dict[str, _Grant] = {}
        self._faults: CountedFaults[OAuthFault] = CountedFaults()
        self._log: list[JsonObject] = []
        self.expires_in = 3600
        self.refresh_expires_in = 90 * 24 * 3600

    def issue_code(self, shop: str) -> str:
        """A fresh single-use authorization code for `shop`."""
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = (shop, time.time())
        return code

    def exchange(self, shop: str, code: str, expiring: bool) -> JsonObject:
        """Trade a code for tokens once; an unknown, used, expired or foreign code is refused."""
        with self._lock:
            issued = self._codes.pop(code, None)
        if issued is None or issued[0] != shop:
            raise SandboxError(400, "invalid_grant")
        if time.time() - issued[1] > CODE_LIFETIME_SECONDS:
            raise SandboxError(400, "invalid_grant")
        return self._grant(shop, expiring, previous=None)

    def refresh(self, shop: str, refresh_token: str) -> JsonObject:
        """Trade the current (or the one before, not yet replaced in use) refresh token."""
        with self._lock:
            grant = self._grants.get(shop)
        valid = grant is not None and refresh_token in (
            grant.refresh_token,
            grant.previous_refresh_token,
        )
        if grant is None or not valid:
            raise SandboxError(400, "invalid_grant")
        return self._grant(shop, True, previous=grant.refresh_token)

    def _grant(self, shop: str, expiring: bool, previous: str | None) -> JsonObject:
        access = f"shpat_sbx_{secrets.token_hex(12)}"
        refresh = f"shprt_sbx_{secrets.token_hex(12)}" if expiring else None
        with self._lock:
            self._grants[shop] = _Grant(shop, access, refresh, previous)
        if self._on_token is not None:
            self._on_token(shop, access)
        answer: JsonObject = {"access_token": access, "scope": SCOPES}
        if expiring:
            answer.update(
                expires_in=self.expires_in,
                refresh_token=refresh,
                refresh_token_expires_in=self.refresh_expires_in,
            )
        return answer

    def tokens(self, shop: str) -> JsonObject:
        """The shop's current tokens (for tests that look for them where they must not be)."""
        with self._lock:
            grant = self._grants.get(shop)
        if grant is None:
            raise SandboxError(404, "no tokens issued for this shop")
        return {"access_token": grant.access_token, "refresh_token": grant.refresh_token}

    def queue_fault(self, fault: OAuthFault) -> None:
        """Fail the next calls, `fault.remaining` of them."""
        self._faults.push(fault)

    def next_fault(self) -> OAuthFault | None:
        """Use up one turn of the oldest queued failure, if any."""
        return self._faults.take()

    def record(self, entry: JsonObject) -> None:
        """Append one request to the log."""
        with self._lock:
            self._log.append(entry)

    def requests(self) -> list[JsonObject]:
        """A copy of the request log."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def reset(self) -> None:
        """Forget codes, tokens, failures and the log; lifetimes back to their defaults."""
        with self._lock:
            self._codes.clear()
            self._grants.clear()
            self._faults.clear()
            self._log.clear()
            self.expires_in = 3600
            self.refresh_expires_in = 90 * 24 * 3600
