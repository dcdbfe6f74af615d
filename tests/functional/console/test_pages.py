"""The console's pages: overview, search and list, an order's timeline, the ticket export."""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import GELATO_KEY, SHOP
from tests.functional.conftest import Sandbox
from tests.functional.console.conftest import cancel, seed
from tests.support.worker import drain

SPLIT = 7001042  # its name is "#1042"


def text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


@pytest.fixture
def split_order(app: Flask, support: FlaskClient, gelato: Sandbox) -> dict[str, str]:
    """#1042: a split order, part 1 passed (cancelled), part 2 printed (too late)."""
    passed, printed = seed(gelato, SPLIT, "passed", "printed")
    webhook = str(uuid.uuid4())
    cancel(support, SPLIT, webhook_id=webhook)
    cancel(support, SPLIT, webhook_id=webhook)  # the store delivers twice
    drain(app)
    return {"passed": passed, "printed": printed, "webhook": webhook}


def test_overview_shows_counts_lateness_and_speed_at_a_glance(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, 5001, "passed")
    seed(gelato, 5002, "printed")
    cancel(support, 5001)
    cancel(support, 5002)
    drain(app)

    page = text(support, "/support/")

    assert "Actions by outcome" in page
    assert "50 %" in page  # one of two cancellations came too late
    assert "(1 of 2; 0 partly)" in page
    assert "Median webhook to Gelato call" in page
    assert "(of 2 actions)" in page
    assert '<svg class="chart"' in page
    assert "seg-too_late" in page
    assert "seg-cancelled" in page


@pytest.mark.parametrize("query", ["#1042", "1042", str(SPLIT), "passed", "printed", "webhook"])
def test_search_finds_the_order_by_name_store_id_gelato_ids_and_delivery_id(
    support: FlaskClient, split_order: dict[str, str], query: str
) -> None:
    needle = split_order.get(query, query)

    page = text(support, f"/support/actions?q={needle.replace('#', '%23')}")

    assert "1 action," in page
    assert f"/support/orders/{SHOP}/{SPLIT}" in page
    assert "Partly cancelled" in page


def test_search_finds_an_action_by_its_id_and_nothing_for_a_stranger(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    cancel(support, 5003)
    action_id = json.loads(
        app.test_cli_runner().invoke(args=["order", SHOP, "5003", "--json"]).output
    )["actions"][0]["id"]

    assert "1 action," in text(support, f"/support/actions?q={action_id}")
    assert "No action matches." in text(support, "/support/actions?q=%239999")


def test_list_filters_by_outcome_kind_shop_and_dates(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, 5004, "passed")
    seed(gelato, 5005, "printed")
    cancel(support, 5004)
    cancel(support, 5005)
    drain(app)

    assert "1 action," in text(support, "/support/actions?outcome=too_late")
    assert "2 actions," in text(support, "/support/actions?kind=cancel")
    assert "0 actions," in text(support, "/support/actions?kind=address_update")
    assert "2 actions," in text(support, f"/support/actions?shop={SHOP}")
    assert "0 actions," in text(support, "/support/actions?shop=other.myshopify.com")
    assert "2 actions," in text(support, "/support/actions?since=2000-01-01&until=2999-12-31")
    assert "0 actions," in text(support, "/support/actions?until=2000-01-01")
    odd = text(support, "/support/actions?outcome=nonsense&since=yesterday")
    assert "Unknown outcome" in odd
    assert "must be a date" in odd
    assert "2 actions," in odd


def test_list_is_newest_first_and_pages_to_older_actions(support: FlaskClient) -> None:
    for order_id in range(6000, 6055):
        cancel(support, order_id)

    first = text(support, "/support/actions")
    assert "55 actions, newest first." in first
    assert first.index("/6054#") < first.index("/6053#")
    assert "/6004#" not in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = text(support, older.replace("&amp;", "&"))
    assert "/6004#" in second
    assert "/6000#" in second
    assert "/6054#" not in second
    assert 'rel="next"' not in second


def test_timeline_tells_the_whole_story_in_plain_words(
    support: FlaskClient, split_order: dict[str, str]
) -> None:
    page = text(support, f"/support/orders/{SHOP}/{SPLIT}")

    assert "#1042" in page
    # The part that came too late is named first, numbered as Gelato lists the parts.
    assert "Partly cancelled: Gelato order " in page
    assert f"({split_order['printed']}) was already printed; Gelato order " in page
    assert f"({split_order['passed']}) was cancelled (it was passed)." in page
    assert "orders/cancelled" in page
    assert "delivered 1 more time(s), duplicates ignored" in page
    assert split_order["webhook"] in page
    assert "Attempt 1:" in page
    assert "/v4/orders:search" in page
    assert f"/v4/orders/{split_order['passed']}:cancel" in page
    assert "&#34;orderReferenceIds&#34;" in page  # the request body, shown
    assert "Store</strong> POST" in page  # the report-back calls
    assert "tag <code>gelato:partially-cancelled</code>" in page
    assert GELATO_KEY not in page


def test_stale_delivery_is_shown_as_stale(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    from tests.support.webhooks import (
        NEW_ADDRESS,
        OLD_ADDRESS,
        delivery_headers,
        encode,
        updated_payload,
    )

    def send(address: dict[str, str], at: str, topic: str = "orders/updated") -> None:
        body = encode(updated_payload(5006, address, at))
        headers = delivery_headers(body, topic=topic)
        assert support.post("/webhooks/shopify", data=body, headers=headers).status_code == 200

    send(OLD_ADDRESS, "2026-11-20T10:00:00-05:00", topic="orders/create")
    send(NEW_ADDRESS, "2026-11-20T10:10:00-05:00")
    send({**NEW_ADDRESS, "city": "Elsewhere"}, "2026-11-20T10:05:00-05:00")

    page = text(support, f"/support/orders/{SHOP}/5006")

    assert "stale: older than what is already recorded for the order" in page
    assert "address edit" in page.lower()


def test_ticket_for_gelato_support_downloads_as_text_and_json(
    support: FlaskClient, split_order: dict[str, str]
) -> None:
    base = f"/support/orders/{SHOP}/{SPLIT}/ticket"
    as_text = support.get(base + ".txt")
    as_json = support.get(base + ".json")

    assert as_text.headers["Content-Disposition"] == 'attachment; filename="gelato-ticket-1042.txt"'
    body = as_text.get_data(as_text=True)
    assert "Order number: #1042" in body
    ids = body.split("Gelato order ids: ")[1].split("\n")[0].split(", ")
    assert sorted(ids) == sorted([split_order["passed"], split_order["printed"]])
    assert "Description of the error:" in body
    assert "was already printed" in body
    assert "Request:" in body
    assert "Response:" in body
    assert ":cancel  ->  200" in body
    document = as_json.get_json()
    assert as_json.mimetype == "application/json"
    assert document["order_number"] == "#1042"
    assert sorted(document["gelato_order_ids"]) == sorted(ids)
    assert document["description"]["outcome"] == "partially_cancelled"
    assert {call["url"].rsplit("/", 1)[1] for call in document["api_calls"]} == {
        "orders:search",
        f"{split_order['passed']}:cancel",
    }
    search = next(call for call in document["api_calls"] if call["url"].endswith(":search"))
    assert json.loads(search["request"])["orderReferenceIds"] == [str(SPLIT)]
    assert json.loads(search["response"])["orders"]
    assert GELATO_KEY not in as_text.get_data(as_text=True) + as_json.get_data(as_text=True)


def test_unknown_order_and_unknown_export_are_not_found(support: FlaskClient) -> None:
    assert support.get(f"/support/orders/{SHOP}/404404").status_code == 404
    assert support.get(f"/support/orders/{SHOP}/404404/ticket.txt").status_code == 404
    assert support.get(f"/support/orders/{SHOP}/404404/ticket.pdf").status_code == 404
