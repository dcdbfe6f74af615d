"""Which database errors mean the database is out of reach (a job waits and retries)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bridge.adapters.database import unreachable


class DriverError(Exception):
    """Stands for a driver's own exception, which SQLAlchemy's errors wrap."""


def wrapped(kind: type[sa.exc.DBAPIError], invalidated: bool = False) -> sa.exc.DBAPIError:
    return kind("SELECT 1", None, DriverError("boom"), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sa.exc.OperationalError),
        wrapped(sa.exc.InterfaceError),
        wrapped(sa.exc.DBAPIError, invalidated=True),
        wrapped(sa.exc.ProgrammingError, invalidated=True),
        sa.exc.TimeoutError("QueuePool limit reached"),
    ],
    ids=["operational", "interface", "invalidated", "invalidated-programming", "pool-timeout"],
)
def test_lost_refused_or_exhausted_connections_are_unreachable(error: Exception) -> None:
    assert unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sa.exc.IntegrityError),
        wrapped(sa.exc.ProgrammingError),
        wrapped(sa.exc.DataError),
        sa.exc.NoResultFound(),
        ValueError("not a database error"),
    ],
    ids=["integrity", "programming", "data", "no-result", "other"],
)
def test_statements_the_database_refused_are_not_unreachable(error: Exception) -> None:
    assert not unreachable(error)
