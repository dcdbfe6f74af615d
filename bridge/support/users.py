"""Support users: created from the CLI, signed in with a password kept only as an Argon2 hash.

Hashing is argon2-cffi's PasswordHasher (Argon2id, RFC 9106 parameters, salt per hash): a
memory-hard hash from a library maintained by the Python cryptography community, so a stolen
table is costly to crack. Werkzeug's scrypt would do too; Argon2id is what OWASP lists first,
and argon2-cffi also tells when a stored hash uses outdated parameters, so it is rehashed at the
next sign-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from bridge.adapters.tables import support_users

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024

_hasher = PasswordHasher()


class UserError(ValueError):
    """A support user could not be created or changed; the message says why."""


@dataclass(frozen=True)
class SupportUser:
    """A support user as stored, without the password hash."""

    id: int
    email: str
    created_at: datetime
    disabled: bool
    last_sign_in_at: datetime | None


def normalize_email(email: str) -> str:
    """The email as stored and looked up: trimmed, lower case."""
    return email.strip().lower()


def check_password(password: str) -> None:
    """Raise UserError when the password is too short or too long to accept."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password may have at most {MAX_PASSWORD} characters")


class SupportUsers:
    """Reads and writes support users; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, email: str, password: str, now: datetime) -> SupportUser:
        """Add a user; UserError for a malformed email, a weak password or a taken email."""
        email = normalize_email(email)
        if not EMAIL.fullmatch(email) or len(email) > 255:
            raise UserError(f"{email!r} is not an email address")
        check_password(password)
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    support_users.insert().values(
                        email=email, password_hash=_hasher.hash(password), created_at=now
                    )
                )
        except sa.exc.IntegrityError:
            raise UserError(f"a support user {email} exists already") from None
        found = self.find(email)
        assert found is not None
        return found

    def set_password(self, email: str, password: str) -> None:
        """Replace a user's password; UserError when there is no such user."""
        check_password(password)
        self._update(email, password_hash=_hasher.hash(password))

    def set_disabled(self, email: str, disabled: bool) -> None:
        """Disable (signs them out at their next request) or enable a user."""
        self._update(email, disabled=disabled)

    def find(self, email: str) -> SupportUser | None:
        """The user with this email, or None."""
        return self._one(support_users.c.email == normalize_email(email))

    def get(self, user_id: int) -> SupportUser | None:
        """The user with this id, or None."""
        return self._one(support_users.c.id == user_id)

    def all(self) -> list[SupportUser]:
        """Every user, by email."""
        with self.engine.connect() as connection:
            rows = connection.execute(_select().order_by(support_users.c.email)).mappings()
            return [SupportUser(**row) for row in rows]

    def authenticate(self, email: str, password: str, now: datetime) -> SupportUser | None:
        """The enabled user with this email and password, or None; outdated hashes are renewed."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(support_users.c.id, support_users.c.password_hash).where(
                    support_users.c.email == normalize_email(email),
                    support_users.c.disabled.is_(sa.false()),
                )
            ).one_or_none()
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            _hasher.verify(stored, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        values: dict[str, object] = {"last_sign_in_at": now}
        if _hasher.check_needs_rehash(stored):
            values["password_hash"] = _hasher.hash(password)
        with self.engine.begin() as connection:
            connection.execute(
                support_users.update().where(support_users.c.id == row.id).values(**values)
            )
        return self.get(int(row.id))

    def _one(self, condition: sa.ColumnElement[bool]) -> SupportUser | None:
        with self.engine.connect() as connection:
            row = connection.execute(_select().where(condition)).mappings().one_or_none()
        return None if row is None else SupportUser(**row)

    def _update(self, email: str, **values: object) -> None:
        with self.engine.begin() as connection:
            changed = connection.execute(
                support_users.update()
                .where(support_users.c.email == normalize_email(email))
                .values(**values)
            ).rowcount
        if not changed:
            raise UserError(f"there is no support user {normalize_email(email)}")


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that a wrong email costs as long as a
    wrong password and the answer time does not tell which emails exist."""
    return _hasher.hash("printbridge: no such user")


def _select() -> sa.Select[tuple[int, str, datetime, bool, datetime | None]]:
    return sa.select(
        support_users.c.id,
        support_users.c.email,
        support_users.c.created_at,
        support_users.c.disabled,
        support_users.c.last_sign_in_at,
    )
