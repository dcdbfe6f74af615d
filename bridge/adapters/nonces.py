"""Single-use values (OAuth state nonces) remembered in Redis until they expire."""

from __future__ import annotations

import hashlib

import redis

KEY_PREFIX = "printbridge:used-nonce:"


class NonceLedger:
    """Remembers which nonces were used, so that each is accepted once, by any process."""

    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    def use(self, purpose: str, nonce: str, ttl_seconds: int) -> bool:
        """Mark `nonce` used; False if it was used before (a replay)."""
        # Hashed: the key names no usable value, and long input makes no long key.
        digest = hashlib.sha256(f"{purpose}:{nonce}".encode()).hexdigest()
        return bool(self._redis.set(KEY_PREFIX + digest, b"1", nx=True, ex=ttl_seconds))
