"""Support users on real SQL: Argon2id hashes, sign-in checks, disabling, rehashing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from bridge.adapters.tables import support_users
from bridge.support.users import SupportUsers, UserError
from tests.integration.sync_log_rows import migrated_engine

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def users(database_url: str) -> Iterator[SupportUsers]:
    with migrated_engine(database_url) as engine:
        yield SupportUsers(engine)


def stored_hash(users: SupportUsers, email: str) -> str:
    with users.engine.connect() as connection:
        return str(
            connection.execute(
                sa.select(support_users.c.password_hash).where(support_users.c.email == email)
            ).scalar_one()
        )


def test_password_is_kept_only_as_an_argon2id_hash(users: SupportUsers) -> None:
    users.create("Ann@Support.example ", PASSWORD, NOW)

    kept = stored_hash(users, "ann@support.example")

    assert kept.startswith("$argon2id$")
    assert PASSWORD not in kept


def test_right_password_signs_in_and_records_when(users: SupportUsers) -> None:
    users.create("ann@support.example", PASSWORD, NOW)

    user = users.authenticate("ANN@support.example", PASSWORD, NOW)

    assert user is not None
    assert user.email == "ann@support.example"
    assert user.last_sign_in_at == NOW
    assert users.authenticate("ann@support.example", PASSWORD + "x", NOW) is None
    assert users.authenticate("bob@support.example", PASSWORD, NOW) is None


def test_disabled_user_cannot_sign_in_until_enabled(users: SupportUsers) -> None:
    users.create("ann@support.example", PASSWORD, NOW)

    users.set_disabled("ann@support.example", True)
    refused = users.authenticate("ann@support.example", PASSWORD, NOW)
    users.set_disabled("ann@support.example", False)

    assert refused is None
    assert users.authenticate("ann@support.example", PASSWORD, NOW) is not None


def test_a_hash_with_outdated_parameters_is_renewed_at_sign_in(users: SupportUsers) -> None:
    users.create("ann@support.example", PASSWORD, NOW)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with users.engine.begin() as connection:
        connection.execute(support_users.update().values(password_hash=weak))

    assert users.authenticate("ann@support.example", PASSWORD, NOW) is not None

    renewed = stored_hash(users, "ann@support.example")
    assert renewed != weak
    assert not PasswordHasher().check_needs_rehash(renewed)


@pytest.mark.parametrize(
    ("email", "password", "says"),
    [
        ("not-an-email", PASSWORD, "not an email address"),
        ("ann@support.example", "short", "at least 12"),
        ("ann@support.example", "x" * 2000, "at most 1024"),
    ],
)
def test_malformed_email_and_weak_password_are_refused(
    users: SupportUsers, email: str, password: str, says: str
) -> None:
    with pytest.raises(UserError, match=says):
        users.create(email, password, NOW)


def test_an_email_is_one_user(users: SupportUsers) -> None:
    users.create("ann@support.example", PASSWORD, NOW)

    with pytest.raises(UserError, match="exists already"):
        users.create("ANN@support.example", PASSWORD, NOW)
    assert [user.email for user in users.all()] == ["ann@support.example"]
