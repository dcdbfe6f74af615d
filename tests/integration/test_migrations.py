"""The Alembic migrations build exactly the schema the code declares, and can be undone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bridge.adapters.database import make_engine
from bridge.adapters.migrate import downgrade, upgrade
from bridge.adapters.tables import metadata

TABLES = {
    "actions",
    "api_calls",
    "attempts",
    "deliveries",
    "order_states",
    "shops",
    "support_users",
    "attention_notes",
    "action_gelato_orders",
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(database_url)
    yield made
    made.dispose()


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        found: list[object] = compare_metadata(MigrationContext.configure(connection), metadata)
    return found


def tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrated_schema_equals_the_declared_tables(engine: Engine) -> None:
    upgrade(engine)

    assert differences(engine) == []
    assert tables(engine) == TABLES | {"alembic_version"}
    assert revision(engine) is not None


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds_it(engine: Engine) -> None:
    upgrade(engine)
    head = revision(engine)

    downgrade(engine, "base")
    emptied = tables(engine)
    upgrade(engine)

    assert emptied == {"alembic_version"}
    assert revision(engine) == head
    assert differences(engine) == []


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)

    assert differences(engine) == []
