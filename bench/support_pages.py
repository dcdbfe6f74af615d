"""Support console pages on a seeded sync log of 100,000 actions: p50/p95 through the test client.

    python bench/support_pages.py                       # fresh SQLite file in a temp folder
    python bench/support_pages.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds actions with their deliveries, attempts, API calls and Gelato order ids (executemany),
then times each page (list, filters, search, paging, the merchant's view, the queue, overview,
one timeline) over repeated requests, signed in as a support user. Exits 0; a page over the
target prints MISSED.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.adapters.migrate import upgrade
from bridge.adapters.tables import (
    action_gelato_orders,
    actions,
    api_calls,
    attempts,
    deliveries,
)
from bridge.app import create_app, services_of
from bridge.config import Settings
from bridge.support.users import SupportUsers
from bridge.web_security import CSRF_KEY, MERCHANT_SHOP_KEY, SUPPORT_USER_KEY

TARGET_MS = 200.0
SHOPS = [f"shop-{n:02}.myshopify.com" for n in range(20)]
OUTCOMES = [
    ("cancelled", 45), ("too_late", 15), ("partially_cancelled", 3), ("already_cancelled", 5),
    ("address_updated", 13), ("partially_updated", 1), ("superseded", 3), ("not_found", 5),
    ("needs_attention", 3), ("dry_run", 1), (None, 1),
]  # fmt: skip
BATCH = 5_000


def seed(engine: sa.Engine, count: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    """Insert `count` actions with their rows; return a few values to search for."""
    names, weights = zip(*OUTCOMES, strict=True)
    samples: dict[str, Any] = {}
    rows: dict[str, list[dict[str, Any]]] = {"a": [], "d": [], "t": [], "c": [], "g": []}
    started = time.perf_counter()
    for i in range(count):
        shop = SHOPS[i % len(SHOPS)]
        order_id = str(5_000_000_000_000 + i)
        outcome = rng.choices(names, weights)[0]
        kind = (
            "address_update"
            if outcome in ("address_updated", "partially_updated")
            else ("address_update" if outcome == "superseded" else "cancel")
        )
        created = now - timedelta(seconds=rng.uniform(0, 90 * 86_400))
        action_id, gelato_id, webhook_id = uuid.uuid4().hex, str(uuid.uuid4()), str(uuid.uuid4())
        part = {"status_found": "passed", "result": "cancelled"}
        rows["a"].append({
            "id": action_id, "shop": shop, "order_id": order_id,
            "order_name": f"#{1001 + i // len(SHOPS)}", "order_gid": f"gid://shopify/Order/{order_id}",
            "reference": order_id, "kind": kind, "dedupe_key": f"{kind}:{i}", "delivery_id": None,
            "event_updated_at": created, "state": "pending" if outcome is None else "done",
            "outcome": outcome,
            "reason": "gelato.rejected" if outcome == "needs_attention" else None,
            "message": "Seeded.", "detail": {"reference": order_id, "parts": {gelato_id: part},
            "gelato_orders": [{"id": gelato_id, **part}]}, "attempts": 1, "dry_run": False,
            "created_at": created, "updated_at": created,
            "first_gelato_call_at": created + timedelta(milliseconds=rng.uniform(15, 60)),
            "next_attempt_at": None, "finished_at": created + timedelta(seconds=1),
            "report_state": "done", "report_reason": None, "reported_at": created,
        })  # fmt: skip
        rows["d"].append({
            "shop": shop, "webhook_id": webhook_id, "event_id": None, "topic": "orders/cancelled",
            "api_version": "2026-07", "triggered_at": created, "received_at": created,
            "order_id": order_id, "event_updated_at": created, "result": "accepted",
            "reason": None, "action_id": action_id, "payload": None, "duplicates": i % 3,
        })  # fmt: skip
        rows["t"].append({
            "action_id": action_id, "number": 1, "started_at": created,
            "finished_at": created, "result": "done",
        })  # fmt: skip
        for method, path, body in (
            ("POST", "/v4/orders:search", json.dumps({"orderReferenceIds": [order_id]})),
            ("POST", f"/v4/orders/{gelato_id}:cancel", None),
        ):
            rows["c"].append({
                "action_id": action_id, "attempt": 1, "service": "gelato", "method": method,
                "url": "https://order.gelatoapis.com" + path, "request_body": body, "status": 200,
                "response_body": json.dumps({"orders": [{"id": gelato_id, "fulfillmentStatus":
                "passed"}]}), "error": None, "duration_ms": 40.0, "created_at": created,
            })  # fmt: skip
        rows["g"].append({"gelato_order_id": gelato_id, "action_id": action_id})
        if i == count // 2:
            samples = {
                "shop": shop, "order_id": order_id, "order_name": rows["a"][-1]["order_name"],
                "gelato_id": gelato_id, "webhook_id": webhook_id, "action_id": action_id,
                "created": created,
            }  # fmt: skip
        if len(rows["a"]) >= BATCH or i == count - 1:
            with engine.begin() as connection:
                for key, table in (("a", actions), ("d", deliveries), ("t", attempts),
                                   ("c", api_calls), ("g", action_gelato_orders)):  # fmt: skip
                    connection.execute(table.insert(), rows[key])
                    rows[key] = []
    print(f"seeded {count:,} actions in {time.perf_counter() - started:.1f} s")
    return samples


def pages(samples: dict[str, Any], after: str) -> list[tuple[str, str, bool]]:
    """(label, path, counts for the 200 ms target) of every page timed."""
    week = samples["created"].date()
    return [
        ("list, newest first", "/support/actions", True),
        ("list, page 2 (cursor)", f"/support/actions?after={after}", True),
        ("filter outcome=too_late", "/support/actions?outcome=too_late", True),
        ("filter outcome=needs_attention", "/support/actions?outcome=needs_attention", True),
        ("filter kind=address_update", "/support/actions?kind=address_update", True),
        ("filter shop", f"/support/actions?shop={samples['shop']}", True),
        ("filter shop + outcome", f"/support/actions?shop={samples['shop']}&outcome=not_found",
         True),
        ("filter 7-day range", f"/support/actions?since={week - timedelta(days=7)}&until={week}",
         True),
        ("search order name", f"/support/actions?q=%23{samples['order_name'][1:]}", True),
        ("search store order id", f"/support/actions?q={samples['order_id']}", True),
        ("search Gelato order id", f"/support/actions?q={samples['gelato_id']}", True),
        ("search delivery id", f"/support/actions?q={samples['webhook_id']}", True),
        ("search action id", f"/support/actions?q={samples['action_id']}", True),
        ("search, no match", "/support/actions?q=nothing-like-this", True),
        ("needs-attention queue", "/support/attention", False),
        ("overview", "/support/", False),
        ("order timeline", f"/support/orders/{samples['shop']}/{samples['order_id']}", False),
    ]  # fmt: skip


def measure(client: Any, path: str, repeat: int) -> tuple[float, float, float]:
    for _ in range(3):
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--postgres", help="PostgreSQL URL: seeded in a temporary schema")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--keep-temp", action="store_true", help="keep the SQLite file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="support-bench-"))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"sqlite:///{folder / 'sync-log.sqlite3'}"
    if args.postgres:
        admin = sa.create_engine(args.postgres)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    settings = Settings(
        instance_path=folder, shopify_api_secret="bench", database_url=url, secret_key="bench",
        redis_url="redis://127.0.0.1:6379/14", shopify_shop=SHOPS[7],
    )  # fmt: skip
    app = create_app(settings)
    engine = services_of(app).storage.engine
    try:
        upgrade(engine)
        now = datetime.now(UTC)
        samples = seed(engine, args.actions, now, random.Random(7))
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("ANALYZE"))
            else:
                connection.exec_driver_sql("ANALYZE")
        user = SupportUsers(engine).create("bench@support.example", "bench password 123", now)
        support, merchant = app.test_client(), app.test_client()
        with support.session_transaction() as session:
            session.update({SUPPORT_USER_KEY: user.id, CSRF_KEY: "x"})
        with merchant.session_transaction() as session:
            session.update({MERCHANT_SHOP_KEY: SHOPS[7], CSRF_KEY: "x"})
        first = support.get("/support/actions").get_data(as_text=True)
        after = first.split('rel="next"')[0].rsplit("after=", 1)[1].split('"')[0]
        after = after.replace("&amp;", "&")
        rows = []
        for label, path, counted in pages(samples, after):
            rows.append((f"support: {label}", *measure(support, path, args.repeat), counted))
        for label, path in (("list", "/support/actions"), ("search order name",
                            f"/support/actions?q=%23{samples['order_name'][1:]}")):  # fmt: skip
            rows.append((f"merchant: {label}", *measure(merchant, path, args.repeat), True))
        report(rows, engine.dialect.name, args)
    finally:
        engine.dispose()
        services_of(app).redis.close()
        if not args.keep_temp:
            shutil.rmtree(folder, ignore_errors=True)
        if args.postgres:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def report(rows: list[tuple[str, float, float, float, bool]], dialect: str, args: Any) -> None:
    print(f"\n{args.actions:,} actions on {dialect}; {args.repeat} timed requests per page "
          f"through the Flask test client (after 3 untimed)\n")  # fmt: skip
    print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target")
    missed = 0
    for label, p50, p95, top, counted in rows:
        verdict = ("met" if p95 < TARGET_MS else "MISSED") if counted else "-"
        missed += verdict == "MISSED"
        print(f"{label:44} {p50:8.1f} {p95:8.1f} {top:8.1f}  {verdict}")
    print(f"\nlist and search pages: p95 < {TARGET_MS:.0f} ms: "
          f"{'all met' if not missed else f'{missed} MISSED'}")  # fmt: skip
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "actions": args.actions, "database": dialect, "repeat": args.repeat,
            "pages": [{"page": r[0], "p50_ms": r[1], "p95_ms": r[2], "max_ms": r[3]}
                      for r in rows],
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
