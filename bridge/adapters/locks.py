"""Per-order locks in Redis: two actions for the same order never run at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis
from redis.lock import Lock

from bridge.adapters.leases import LeaseLost, renewing
from bridge.domain.errors import TransientError


class OrderLease:
    """The lock of one order as its holder sees it: confirmed before each change at Gelato."""

    def __init__(self, lock: Lock, order_id: str) -> None:
        self._lock = lock
        self._order_id = order_id

    def confirm(self) -> None:
        """Renew the lock now; TransientError when it is no longer this holder's.

        A holder whose process stalled past its lease (frozen, starved of CPU, Redis out of
        reach) may have a successor acting on the order already: the change it was about to
        make must wait for a later attempt, which reads what the successor did first.
        """
        try:
            self._lock.reacquire()
        except redis.exceptions.LockNotOwnedError as error:
            raise TransientError(
                "action.lease_lost",
                f"the lock of order {self._order_id} lapsed; another job may be acting on it",
            ) from error
        except redis.RedisError as error:
            raise TransientError(
                "action.lease_unconfirmed",
                f"could not confirm the lock of order {self._order_id}: {type(error).__name__}",
            ) from error


@contextmanager
def order_lock(
    connection: redis.Redis, shop: str, order_id: str, ttl: float, renew_for: float = 0.0
) -> Iterator[OrderLease]:
    """Hold the order's lock while the block runs; TransientError when another holds it.

    The lock is a lease: it lasts `ttl` seconds and is renewed every third of that while the
    block runs, for at most `renew_for` seconds. A worker killed while holding it blocks the
    order for at most one `ttl`, however long the job it ran could have taken. The block gets
    the lease, to confirm before each change that it still holds it.
    """
    name = f"printbridge:order-lock:{shop}:{order_id}"
    # Not thread-local: the renewing thread must see the token this thread acquired.
    lock = connection.lock(name, timeout=ttl, thread_local=False)
    if not lock.acquire(blocking=False):
        raise TransientError(
            "action.order_busy", "another action for this order is running", retry_after=2
        )

    def renew() -> None:
        try:
            lock.reacquire()
        except redis.exceptions.LockNotOwnedError as error:
            raise LeaseLost(
                f"the lock of order {order_id} expired before it was renewed"
            ) from error

    try:
        with renewing(renew, ttl / 3, renew_for, "order lock"):
            yield OrderLease(lock, order_id)
    finally:
        # LockNotOwnedError: the lock expired while the job ran; there is nothing to free.
        with suppress(redis.exceptions.LockNotOwnedError):
            lock.release()
