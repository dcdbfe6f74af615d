"""Secrets at rest: Fernet ciphertext only, readable with any listed key, rotated to the first."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bridge.adapters.crypto import Cipher, CipherError

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
SECRET = "shpat_0123456789abcdef"


def test_ciphertext_does_not_contain_the_secret_and_decrypts_to_it() -> None:
    cipher = Cipher([OLD])

    sealed = cipher.encrypt(SECRET)

    assert SECRET not in sealed
    assert sealed != cipher.encrypt(SECRET)  # a fresh IV each time
    assert cipher.decrypt(sealed) == SECRET


def test_a_new_first_key_still_reads_what_the_old_key_wrote() -> None:
    sealed = Cipher([OLD]).encrypt(SECRET)

    assert Cipher([NEW, OLD]).decrypt(sealed) == SECRET


def test_new_secrets_are_written_with_the_first_key() -> None:
    sealed = Cipher([NEW, OLD]).encrypt(SECRET)

    assert Cipher([NEW]).decrypt(sealed) == SECRET
    with pytest.raises(CipherError):
        Cipher([OLD]).decrypt(sealed)


def test_rotation_rewrites_with_the_first_key_so_the_old_key_can_be_dropped() -> None:
    sealed = Cipher([OLD]).encrypt(SECRET)

    rotated = Cipher([NEW, OLD]).rotate(sealed)

    assert Cipher([NEW]).decrypt(rotated) == SECRET
    with pytest.raises(CipherError):
        Cipher([NEW]).decrypt(sealed)


def test_without_keys_nothing_is_stored_or_read() -> None:
    cipher = Cipher([])

    assert not cipher.configured
    with pytest.raises(CipherError, match="BRIDGE_ENCRYPTION_KEY"):
        cipher.encrypt(SECRET)


@pytest.mark.parametrize("garbage", ["not-a-token", "", "ü"])
def test_garbage_is_a_cipher_error_not_a_crash(garbage: str) -> None:
    with pytest.raises(CipherError):
        Cipher([NEW]).decrypt(garbage)
