"""The store's side of the overload run, in its own process: signed orders/cancelled deliveries
sent over HTTP, closed loop to measure what the web tier serves, open loop at a fixed rate.

Run as `python -m tests.faults.overload_client SPEC.json RESULT.json`. It has a process (and a
GIL) of its own so that the sandboxes serving the workers in the test process cannot delay its
sends or its clock. Each request opens its own connection (a store keeps connections alive; a
new one is the harder case, as the server must accept it too), and each answer is timed from
the connection attempt to the last byte of the answer, with a client timeout far above
Shopify's 5 s so that a slow answer is seen, not cut.

Open loop: request slots are due at start + i / rate, whatever the server does. A slot sends
the oldest refused delivery whose Retry-After has passed (a store delivers a refused webhook
again later), else, while the load lasts, a new delivery; so the requests offered, retries
included, are `rate` per second. After the load, slots go on only for retries, until every
delivery is accepted or the retry window (`retry_for` seconds after the load) has passed:
deliveries still refused then are given up by this sender (a store keeps retrying for hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.support.webhooks import delivery_headers, encode, order_payload

NO_ANSWER = 0  # the status recorded when the connection failed or the client timed out


@dataclass
class Answer:
    """What one request got back."""

    status: int
    # From the connection attempt to the last byte of the answer, and to the connection made.
    seconds: float
    connect_seconds: float
    retry_after: str | None = None
    error: str | None = None


@dataclass
class Attempt(Answer):
    """One request of one delivery and its answer."""

    order: int = 0
    attempt: int = 1
    # When it was due and when the connection attempt began, seconds from the load's start.
    due: float = 0.0
    began: float = 0.0
    # time.monotonic() when the connection attempt began (the same clock as the server's).
    at: float = 0.0


def webhook_id(order: int) -> str:
    """The delivery's webhook id: the same on every retry of it, as the store sends it."""
    return f"overload-{order}"


def request_bytes(host: str, port: int, order: int) -> bytes:
    """The whole HTTP request of one signed orders/cancelled delivery."""
    body = encode(order_payload(order))
    headers = delivery_headers(body, webhook_id=webhook_id(order))
    head = [
        "POST /webhooks/shopify HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def exchange(host: str, port: int, payload: bytes, timeout: float) -> Answer:
    """Send one request on a new connection and read its answer."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    connected = began

    async def talk() -> tuple[int, str | None]:
        nonlocal connected
        reader, writer = await asyncio.open_connection(host, port)
        connected = loop.time()
        try:
            writer.write(payload)
            await writer.drain()
            # The answer is complete at its Content-Length, as a store reads it: its sender does
            # not wait for the server to close the connection.
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            await reader.readexactly(int(fields.get("content-length", "0")))
        finally:
            writer.close()
        if not head[0].startswith("HTTP/"):
            raise ConnectionError("no HTTP answer")
        return int(head[0].split()[1]), fields.get("retry-after")

    try:
        status, retry_after = await asyncio.wait_for(talk(), timeout)
    except TimeoutError:
        return Answer(NO_ANSWER, loop.time() - began, connected - began, error="client timeout")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
        return Answer(
            NO_ANSWER, loop.time() - began, connected - began,
            error=f"{type(error).__name__}: {error}",
        )  # fmt: skip
    return Answer(status, loop.time() - began, connected - began, retry_after)


def attempt(
    answer: Answer, order: int, number: int, due: float, began: float, at: float
) -> Attempt:
    """An answer with what it answered."""
    return Attempt(**asdict(answer), order=order, attempt=number, due=due, began=began, at=at)


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """`connections` senders, each sending its next delivery when the last is answered."""
    host, port, timeout = spec["host"], spec["port"], spec["timeout"]
    numbers = range(spec["first_order"], spec["first_order"] + spec["max_orders"])
    payloads = {order: request_bytes(host, port, order) for order in numbers}
    orders = iter(numbers)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + spec["warmup"]
    end = measure_from + spec["duration"]
    attempts: list[Attempt] = []
    exhausted = False

    async def sender() -> None:
        nonlocal exhausted
        while loop.time() < end:
            order = next(orders, None)
            if order is None:
                exhausted = True
                return
            began = loop.time()
            answer = await exchange(host, port, payloads[order], timeout)
            attempts.append(attempt(answer, order, 1, began - start, began - start, began))

    await asyncio.gather(*(sender() for _ in range(spec["connections"])))
    window = (measure_from - start, end - start)
    measured = [a for a in attempts if a.began >= window[0] and a.began + a.seconds <= window[1]]
    accepted = sum(1 for a in measured if a.status == 200)
    return {
        "attempts": [asdict(a) for a in attempts],
        "capacity_rps": accepted / spec["duration"],
        "measured_answers": len(measured),
        # Every seeded order was sent before the time was up: the rate measured is too low.
        "exhausted": exhausted,
    }


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """Request slots at `rate` per second; retries first, new deliveries while the load lasts."""
    host, port, timeout, rate = spec["host"], spec["port"], spec["timeout"], spec["rate"]
    first = spec["first_order"]
    payloads = [request_bytes(host, port, first + n) for n in range(spec["max_orders"])]
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    load_end = start + spec["duration"]
    retry_end = load_end + spec["retry_for"]
    attempts: list[Attempt] = []
    # (time it may be sent again, order, attempt number) of refused deliveries.
    refused: list[tuple[float, int, int]] = []
    in_flight: set[asyncio.Task[None]] = set()
    given_up: list[int] = []
    new = 0
    late_slots = 0  # slots the event loop reached more than 50 ms after they were due

    async def deliver(order: int, number: int, due: float) -> None:
        began = loop.time()
        answer = await exchange(host, port, payloads[order - first], timeout)
        finished = loop.time()
        attempts.append(attempt(answer, order, number, due - start, began - start, began))
        if answer.status == 503:
            retry_after = answer.retry_after
            wait = float(retry_after) if retry_after and retry_after.isdigit() else 5.0
            again = finished + wait + random.uniform(0, 1)
            if again < retry_end:
                heapq.heappush(refused, (again, order, number + 1))
            else:
                given_up.append(order)

    slot = 0
    while True:
        due = start + slot / rate
        slot += 1
        if due >= retry_end or (due >= load_end and not refused and not in_flight):
            break
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late_slots += 1
        now = loop.time()
        if refused and refused[0][0] <= now:
            _, order, number = heapq.heappop(refused)
        elif now < load_end and new < len(payloads):
            order, number = first + new, 1
            new += 1
        else:
            continue
        task = asyncio.ensure_future(deliver(order, number, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)
    given_up.extend(order for _, order, _ in refused)
    return {
        "attempts": [asdict(a) for a in attempts],
        "new_deliveries": new,
        "given_up": sorted(given_up),
        "late_slots": late_slots,
        "elapsed": loop.time() - start,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    with contextlib.suppress(PermissionError):
        # The store's senders are other machines: on this shared one the sender runs ahead of
        # the processes under test, so that its own CPU starvation neither bunches its sends
        # nor delays its reading of an answer (either would be put on the server's account).
        os.nice(-10)
    began = time.monotonic()
    run = closed_loop if spec["mode"] == "closed" else open_loop
    result = asyncio.run(run(spec))
    result["wall_seconds"] = time.monotonic() - began
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
