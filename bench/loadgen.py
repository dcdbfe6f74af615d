"""An HTTP/1.1 load generator on asyncio protocols: pre-encoded requests, keep-alive when allowed.

One process, one event loop. Each request is a ready `bytes` object (built before timing), so
sending costs one `write`; a response is read up to its Content-Length. A server that answers
`Connection: close` (gunicorn's sync worker) gets a fresh connection for the next request.

Closed loop: every connection sends its next request as soon as the previous answer arrives.
Open loop: request i is due at start + i / rate whatever happened before; its latency counts
from that scheduled time, so a stalled server cannot hide its queue (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

CONNECT_ERROR = 0  # the status recorded when no answer came back
# Closed loop: seconds between opening one connection and the next. A server's processes share
# one listening socket, and whichever is first to `accept` takes a connection for good (keep-alive):
# opened all at once, onto idle processes, the connections often all land on one process, which
# then carries the whole load on one core. Opened while the earlier ones already keep a process
# busy, the next tends to go to a less busy one, as connections arriving over time do.
RAMP_STEP = 0.01


@dataclass
class Result:
    """What one phase of load did: counts, statuses and per-request timings."""

    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    # Index of the request -> wall-clock time it was written (open loop only).
    sent_at: dict[int, float] = field(default_factory=dict)
    client_cpu: float = 0.0
    exhausted: bool = False

    @property
    def completed(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        return self.completed - self.statuses.get(200, 0)

    @property
    def rps(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0


class _Connection(asyncio.Protocol):
    """One client connection that carries one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bool]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection lost before the answer"))

    def request(self, payload: bytes) -> asyncio.Future[tuple[int, bool]]:
        """Send one request; the future gives (status, server keeps the connection open)."""
        assert self.transport is not None
        self._buffer.clear()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._waiter is None:
            return
        head = bytes(self._buffer[:end]).lower()
        length = 0
        keep_alive = True
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and b"close" in value:
                keep_alive = False
        if len(self._buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        waiter, self._waiter = self._waiter, None
        if not waiter.done():
            waiter.set_result((status, keep_alive))


class _Client:
    """Connections to one host:port, each reconnected when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    async def send(
        self, connection: _Connection | None, payload: bytes
    ) -> tuple[int, _Connection | None]:
        """Send on `connection` (or a new one); return the status and the connection to reuse."""
        loop = asyncio.get_running_loop()
        try:
            if connection is None or connection.closed:
                _, connection = await loop.create_connection(_Connection, self.host, self.port)
            status, keep_alive = await connection.request(payload)
        except OSError:
            if connection is not None and connection.transport is not None:
                connection.transport.close()
            return CONNECT_ERROR, None
        if not keep_alive:
            assert connection.transport is not None
            connection.transport.close()
            connection.closed = True
        return status, connection


async def _closed_loop(
    client: _Client, payloads: Sequence[bytes], connections: int, duration: float, cycle: bool
) -> Result:
    result = Result()
    loop = asyncio.get_running_loop()
    next_index = 0
    # The connections open one by one, RAMP_STEP apart, while the ones before them already
    # carry load; only requests sent after the last one opened are measured.
    start = loop.time() + connections * RAMP_STEP
    end = start + duration

    async def slot(number: int) -> None:
        nonlocal next_index
        await asyncio.sleep(number * RAMP_STEP)
        connection: _Connection | None = None
        while loop.time() < end:
            if next_index >= len(payloads):
                if not cycle:
                    result.exhausted = True
                    return
                next_index = 0
            payload = payloads[next_index]
            next_index += 1
            began = loop.time()
            status, connection = await client.send(connection, payload)
            finished = loop.time()
            if start <= began and finished <= end:  # the ramp and late answers do not count
                result.statuses[status] += 1
                result.latencies.append(finished - began)
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    cpu = time.process_time()
    await asyncio.gather(*(slot(number) for number in range(connections)))
    result.elapsed = min(loop.time(), end) - start
    result.client_cpu = time.process_time() - cpu
    return result


async def _open_loop(
    client: _Client, payloads: Sequence[bytes], rate: float, max_connections: int
) -> Result:
    result = Result()
    loop = asyncio.get_running_loop()
    wall_offset = time.time() - loop.time()
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def slot() -> None:
        connection: _Connection | None = None
        while (item := await due.get()) is not None:
            index, scheduled = item
            result.sent_at[index] = loop.time() + wall_offset
            status, connection = await client.send(connection, payloads[index])
            result.statuses[status] += 1
            result.latencies.append(loop.time() - scheduled)
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    cpu = time.process_time()
    workers = [asyncio.ensure_future(slot()) for _ in range(max_connections)]
    start = loop.time() + 0.05
    for index in range(len(payloads)):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait((index, scheduled))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    result.elapsed = loop.time() - start
    result.client_cpu = time.process_time() - cpu
    return result


def closed_loop(
    host: str,
    port: int,
    payloads: Sequence[bytes],
    *,
    connections: int,
    duration: float,
    cycle: bool = False,
) -> Result:
    """Keep `connections` requests in flight for `duration` seconds; `cycle` reuses payloads."""
    return asyncio.run(_closed_loop(_Client(host, port), payloads, connections, duration, cycle))


def open_loop(
    host: str, port: int, payloads: Sequence[bytes], *, rate: float, max_connections: int = 64
) -> Result:
    """Send every payload once, request i due at i / rate seconds; latency from that time."""
    return asyncio.run(_open_loop(_Client(host, port), payloads, rate, max_connections))
