"""Privacy erasures on real SQL (SQLite and PostgreSQL): what goes, what stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.privacy import ERASED_BODY, PrivacyRecords
from bridge.adapters.storage import ApiCall, Storage
from bridge.adapters.tables import actions, api_calls, deliveries, order_states
from bridge.domain.outcomes import Outcome
from tests.conftest import SHOP
from tests.integration.sync_log_rows import NOW, ORDER_ID, action, delivery, migrated_engine

OTHER_SHOP = "other-shop.myshopify.com"
NAME = "Zebulon Quixotefield"
STREET = "77 Marmalade Crescent"
EMAIL = "zeb@redact.example"
PAYLOAD = json.dumps(
    {
        "id": int(ORDER_ID),
        "email": EMAIL,
        "cancelled_at": "2026-11-20T11:31:25-05:00",
        "shipping_address": {"name": NAME, "address1": STREET, "country_code": "US"},
    }
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with migrated_engine(database_url) as made:
        yield made


def story(engine: Engine, shop: str = SHOP) -> str:
    """A delivery, its action with an address, calls with personal bodies, an outcome."""
    storage = Storage(engine)
    new = action(shop=shop, detail={"address": {"firstName": "Zebulon", "addressLine1": STREET}})
    storage.record_delivery(delivery(shop=shop, payload=PAYLOAD), new)
    number = storage.start_attempt(new.id, NOW)
    storage.record_api_call(
        new.id,
        number,
        ApiCall(
            "gelato",
            "GET",
            "https://gelato.test/v4/orders/g-1",
            None,
            200,
            json.dumps({"id": "g-1", "shippingAddress": {"firstName": "Zebulon", "email": EMAIL}}),
            None,
            2.0,
            NOW,
        ),
    )
    storage.record_api_call(
        new.id,
        number,
        ApiCall("gelato", "POST", "https://gelato.test/v4/orders", '{"cut": "Zebulon Q', 500,
                None, None, 2.0, NOW),
    )  # fmt: skip
    storage.finish_action(
        new.id,
        NOW + timedelta(seconds=1),
        outcome=Outcome.CANCELLED,
        reason=None,
        message=f"Gelato order g-1 now ships to {STREET}.",
    )
    return new.id


def everything(engine: Engine) -> str:
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        return json.dumps(
            [
                [str(value) for value in row]
                for table in tables
                for row in connection.execute(sa.text(f'SELECT * FROM "{table}"'))  # noqa: S608
            ]
        )


def test_redacting_orders_erases_personal_values_and_keeps_the_record(engine: Engine) -> None:
    action_id = story(engine)
    assert NAME in everything(engine)

    erased = PrivacyRecords(engine).redact_orders(SHOP, [ORDER_ID])

    text = everything(engine)
    for needle in ("Zebulon", "Quixotefield", STREET, EMAIL):
        assert needle not in text
    assert erased.counts["deliveries"] == 1
    assert erased.counts["api_calls"] == 2
    with engine.connect() as connection:
        row = connection.execute(sa.select(actions).where(actions.c.id == action_id)).one()
        payload = json.loads(connection.execute(sa.select(deliveries.c.payload)).scalar_one())
        bodies = connection.execute(
            sa.select(api_calls.c.status, api_calls.c.request_body).order_by(api_calls.c.id)
        ).all()
        fingerprint = connection.execute(sa.select(order_states.c.address_fingerprint)).scalar()
    assert (row.outcome, row.state) == ("cancelled", "done")
    assert payload["id"] == int(ORDER_ID)
    assert payload["cancelled_at"] == "2026-11-20T11:31:25-05:00"
    assert payload["shipping_address"]["country_code"] == "[redacted]"
    assert [status for status, _ in bodies] == [200, 500]
    assert bodies[1][1] == ERASED_BODY  # cut short, not JSON: erased whole
    assert fingerprint is None


def test_redacting_orders_leaves_other_orders_and_shops_alone(engine: Engine) -> None:
    story(engine)
    story(engine, shop=OTHER_SHOP)

    PrivacyRecords(engine).redact_orders(SHOP, ["1"])  # another order of the shop
    PrivacyRecords(engine).redact_orders(SHOP, [ORDER_ID])

    with engine.connect() as connection:
        kept = connection.execute(
            sa.select(deliveries.c.payload).where(deliveries.c.shop == OTHER_SHOP)
        ).scalar_one()
    assert NAME in kept


def test_erasing_a_shop_deletes_every_row_of_it_and_nothing_else(engine: Engine) -> None:
    story(engine)
    story(engine, shop=OTHER_SHOP)

    erased = PrivacyRecords(engine).erase_shop(SHOP)

    assert SHOP not in everything(engine)
    assert OTHER_SHOP in everything(engine)
    assert erased.counts["actions"] == 1
    assert erased.counts["api_calls"] == 2
    assert erased.counts["attempts"] == 1
