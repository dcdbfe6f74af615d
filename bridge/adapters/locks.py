"""Per-order locks in Redis: two actions for the same order never run at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis

from bridge.domain.errors import TransientError


@contextmanager
def order_lock(connection: redis.Redis, shop: str, order_id: str, ttl: float) -> Iterator[None]:
    """Hold the order's lock while the block runs; TransientError when another holds it.

    The lock expires after `ttl` seconds, so a worker killed while holding it blocks the
    order for at most one job timeout.
    """
    lock = connection.lock(f"printbridge:order-lock:{shop}:{order_id}", timeout=ttl)
    if not lock.acquire(blocking=False):
        raise TransientError(
            "action.order_busy", "another action for this order is running", retry_after=2
        )
    try:
        yield
    finally:
        # LockNotOwnedError: the lock expired while the job ran; there is nothing to free.
        with suppress(redis.exceptions.LockNotOwnedError):
            lock.release()
