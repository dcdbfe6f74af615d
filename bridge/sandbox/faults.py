"""Fault plan of the Gelato sandbox: queued faults, random fault rates and base latency."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from bridge.sandbox.replies import JsonObject, SandboxError

ENDPOINTS = frozenset({"search", "get", "cancel", "create", "patch", "delete", "*"})


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour applied to a single matching /v4 request."""

    endpoint: str = "*"
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    timeout: float | None = None

    def matches(self, endpoint: str) -> bool:
        """Tell whether this fault applies to requests of the given endpoint."""
        return self.endpoint in ("*", endpoint)

    @property
    def kind(self) -> str:
        """What the fault does to its answer, as the request log names it.

        "timeout" (performed, then answered too late), "429", "5xx", "4xx" (refused), or
        "delay" (slowed, then performed and answered as usual).
        """
        if self.timeout is not None:
            return "timeout"
        if self.status is None:
            return "delay"
        if self.status == 429:
            return "429"
        return "5xx" if self.status >= 500 else "4xx"


@dataclass(frozen=True)
class FaultRates:
    """Probabilities of random faults per /v4 request, for reliability tests.

    A 429 carries `retry_after` as its Retry-After; a 5xx carries `server_error_retry_after`
    (none by default, as most servers send none with a 5xx).
    """

    server_error: float = 0.0
    too_many: float = 0.0
    timeout: float = 0.0
    retry_after: float | None = None
    server_error_retry_after: float | None = None
    timeout_seconds: float = 3.0
    endpoint: str = "*"


@dataclass
class _Queued:
    fault: Fault
    remaining: int


class FaultPlan:
    """Thread-safe holder of queued faults, fault rates and base latency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._rates = FaultRates()
        self._random = random.Random()  # noqa: S311 - reproducible test noise, not secrets
        self._latency = 0.0

    @property
    def latency(self) -> float:
        """Seconds of delay added to every /v4 request."""
        with self._lock:
            return self._latency

    def set_latency(self, seconds: float) -> None:
        """Set the base latency of every /v4 request."""
        with self._lock:
            self._latency = seconds

    def queue(self, fault: Fault, count: int) -> int:
        """Queue a fault for the next `count` matching requests; return the queue length."""
        with self._lock:
            self._queue.append(_Queued(fault, count))
            return len(self._queue)

    def set_rates(self, rates: FaultRates, seed: int | None) -> None:
        """Replace the random fault rates, reseeding so a run can be replayed."""
        with self._lock:
            self._rates = rates
            self._random = random.Random(seed)  # noqa: S311 - reproducible test noise

    def next_fault(self, endpoint: str) -> Fault | None:
        """Consume the fault for this request: the oldest matching queued one, else a random one."""
        with self._lock:
            for entry in self._queue:
                if entry.fault.matches(endpoint):
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._queue.remove(entry)
                    return entry.fault
            return self._random_fault(endpoint)

    def reset(self) -> None:
        """Forget every fault, rate and latency."""
        with self._lock:
            self._queue.clear()
            self._rates = FaultRates()
            self._latency = 0.0

    def _random_fault(self, endpoint: str) -> Fault | None:
        rates = self._rates
        if rates.endpoint not in ("*", endpoint):
            return None
        draw = self._random.random()
        if draw < rates.timeout:
            return Fault(endpoint=endpoint, timeout=rates.timeout_seconds)
        if draw < rates.timeout + rates.too_many:
            return Fault(endpoint=endpoint, status=429, retry_after=rates.retry_after)
        if draw < rates.timeout + rates.too_many + rates.server_error:
            status = self._random.choice((500, 502, 503))
            return Fault(
                endpoint=endpoint, status=status, retry_after=rates.server_error_retry_after
            )
        return None


def _number(body: JsonObject, key: str, default: float | None, minimum: float) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    # bool is an int subclass; a stray true must not read as 1 second.
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise SandboxError(400, f"{key} must be a number >= {minimum}.")
    return float(value)


def parse_fault(body: JsonObject) -> tuple[Fault, int]:
    """Read a fault and its count from a control request body."""
    endpoint = body.get("endpoint", "*")
    if endpoint not in ENDPOINTS:
        raise SandboxError(400, f"endpoint must be one of {sorted(ENDPOINTS)}.")
    status = body.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
    ):
        raise SandboxError(400, "status must be an HTTP error status (400-599).")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise SandboxError(400, "count must be a positive integer.")
    delay = _number(body, "delay", 0.0, 0.0) or 0.0
    timeout = _number(body, "timeout", None, 0.0)
    if status is None and timeout is None and delay == 0.0:
        raise SandboxError(400, "A fault needs a status, a timeout or a delay.")
    fault = Fault(
        endpoint=str(endpoint),
        status=status,
        retry_after=_number(body, "retry_after", None, 0.0),
        delay=delay,
        timeout=timeout,
    )
    return fault, count


def parse_rates(body: JsonObject) -> tuple[FaultRates, int | None]:
    """Read random fault rates and the optional seed from a control request body."""
    endpoint = body.get("endpoint", "*")
    if endpoint not in ENDPOINTS:
        raise SandboxError(400, f"endpoint must be one of {sorted(ENDPOINTS)}.")
    rates = FaultRates(
        server_error=_number(body, "5xx", 0.0, 0.0) or 0.0,
        too_many=_number(body, "429", 0.0, 0.0) or 0.0,
        timeout=_number(body, "timeout", 0.0, 0.0) or 0.0,
        retry_after=_number(body, "retry_after", None, 0.0),
        server_error_retry_after=_number(body, "5xx_retry_after", None, 0.0),
        timeout_seconds=_number(body, "timeout_seconds", 3.0, 0.0) or 0.0,
        endpoint=str(endpoint),
    )
    if rates.server_error + rates.too_many + rates.timeout > 1.0:
        raise SandboxError(400, "The fault rates must add up to at most 1.")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise SandboxError(400, "seed must be an integer.")
    return rates, seed


class Counted(Protocol):
    """A queued failure that lasts for its next `remaining` uses."""

    remaining: int


F = TypeVar("F", bound=Counted)


class CountedFaults(Generic[F]):
    """Failures queued for the next requests, oldest first, each used `remaining` times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[F] = []

    def push(self, fault: F) -> None:
        """Queue a failure behind those already queued."""
        with self._lock:
            self._faults.append(fault)

    def take(self) -> F | None:
        """Use up one turn of the oldest queued failure, if any."""
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
            return fault

    def clear(self) -> None:
        """Forget every queued failure."""
        with self._lock:
            self._faults.clear()
