"""One HTTP exchange with an outside API, timed and recorded for the sync log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from bridge.adapters.redaction import redact_body
from bridge.adapters.storage import ApiCall
from bridge.domain.errors import TransientError

Recorder = Callable[[ApiCall], None]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Exchange:
    """The answer to one request: status, headers and the parsed JSON body (if any)."""

    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class RecordingTransport:
    """Sends requests through one shared session and records each call, secrets masked."""

    session: requests.Session
    service: str
    recorder: Recorder
    clock: Clock
    timeout: float
    secrets: tuple[str, ...]

    def send(
        self, method: str, url: str, *, headers: dict[str, str], payload: Any = None
    ) -> Exchange:
        """Send one request; raise TransientError when no answer came back."""
        body = None if payload is None else json.dumps(payload)
        started_at = self.clock()
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                url,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                # Connecting is quick or not at all; reading may take the server's time.
                timeout=(min(3.05, self.timeout), self.timeout),
            )
        except requests.Timeout as error:
            self._record(method, url, body, started, started_at, None, None, "timeout")
            raise TransientError(
                f"{self.service}.timeout", f"{self.service} did not answer in time"
            ) from error
        except requests.RequestException as error:
            kind = type(error).__name__
            self._record(method, url, body, started, started_at, None, None, kind)
            raise TransientError(
                f"{self.service}.connection", f"could not reach {self.service}: {kind}"
            ) from error
        self._record(
            method, url, body, started, started_at, response.status_code, response.text, None
        )
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = None
        return Exchange(response.status_code, dict(response.headers), parsed)

    def _record(
        self,
        method: str,
        url: str,
        body: str | None,
        started: float,
        started_at: datetime,
        status: int | None,
        response_body: str | None,
        error: str | None,
    ) -> None:
        self.recorder(
            ApiCall(
                service=self.service,
                method=method,
                url=url,
                request_body=redact_body(body, self.secrets),
                status=status,
                response_body=redact_body(response_body, self.secrets),
                error=error,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                created_at=started_at,
            )
        )
