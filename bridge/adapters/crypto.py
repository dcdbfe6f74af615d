"""Encryption at rest of store tokens and Gelato keys: Fernet, with key rotation."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CipherError(Exception):
    """A value could not be encrypted or decrypted: no key, or none of the keys fits."""


class Cipher:
    """Encrypts with the first key of BRIDGE_ENCRYPTION_KEY and decrypts with any of them.

    Listing a new key first and the old one after it keeps every stored secret readable;
    `printbridge rotate-keys` then re-encrypts them all with the new key, and the old one can
    be dropped from the list.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys]) if keys else None

    @property
    def configured(self) -> bool:
        """Whether there is a key to encrypt with."""
        return self._fernet is not None

    def encrypt(self, plaintext: str) -> str:
        """The ciphertext (a Fernet token, ASCII) of `plaintext`."""
        return self._keys().encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext of a stored ciphertext; CipherError when no key fits."""
        try:
            return self._keys().decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as error:
            raise CipherError("no key in BRIDGE_ENCRYPTION_KEY decrypts a stored secret") from error

    def rotate(self, ciphertext: str) -> str:
        """The same secret encrypted with the first key; CipherError when no key fits."""
        try:
            return self._keys().rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as error:
            raise CipherError("no key in BRIDGE_ENCRYPTION_KEY decrypts a stored secret") from error

    def _keys(self) -> MultiFernet:
        if self._fernet is None:
            raise CipherError("BRIDGE_ENCRYPTION_KEY is not set: secrets cannot be stored")
        return self._fernet
