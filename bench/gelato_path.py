"""Phase C: from a webhook's arrival to the cancel request reaching the Gelato sandbox."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
import requests

from bench import loadgen
from bench.phases import HOST
from bench.processes import Processes, cpu_seconds
from bench.report import Report, latency_ms
from bench.scenarios import SCENARIOS, Deliveries
from bench.stack import PRINTBRIDGE, Stack, start_worker

WARMUP_ORDERS = 5


@dataclass(frozen=True)
class GelatoLoad:
    """How many cancellations phase C sends, how fast, and how long it waits for them."""

    orders: int
    rate: float
    timeout: float = 60.0


def cancel_latency(
    processes: Processes, stack: Stack, deliveries: Deliveries, load: GelatoLoad, report: Report
) -> None:
    """Seed passed Gelato orders, cancel them in the store, time each cancel's arrival."""
    stack.flush_queue()  # phase A and B jobs must not queue ahead of these
    start_worker(processes, stack)
    session = requests.Session()
    # The first orders warm the worker up (imports, connections); they are not measured.
    _round(session, stack, deliveries, WARMUP_ORDERS, 5.0, load.timeout, processes)
    worker_cpu = cpu_seconds(processes.pid("worker"))
    queue = redis.Redis.from_url(stack.redis_url)
    queue.config_resetstat()
    began = time.monotonic()
    sent, arrived, web = _round(
        session, stack, deliveries, load.orders, load.rate, load.timeout, processes
    )
    worker_cpu = cpu_seconds(processes.pid("worker")) - worker_cpu
    elapsed = time.monotonic() - began
    stats = queue.info("commandstats")
    commands = sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_config")
    queue.close()
    delays = [arrived[order] - sent[order] for order in sent if order in arrived]
    report.add(
        f"C webhook->cancel, {load.rate:g}/s",
        "printbridge + worker",
        offered_rps=load.rate,
        orders=load.orders,
        ok=web.statuses.get(200, 0),
        errors=web.errors,
        cancels_seen=len(delays),
        missing=load.orders - len(delays),
        webhook_p50_ms=latency_ms(web.latencies)["p50_ms"],
        # The worker's CPU (actions and report-backs) until the last cancel arrived.
        worker_cpu_ms_per_order=round(worker_cpu / load.orders * 1000, 2),
        worker_cpu_cores=round(worker_cpu / elapsed, 2),
        redis_commands_per_order=round(commands / load.orders, 1),
        **latency_ms(delays),
    )
    report.notes.append(
        f"C: {len(delays)}/{load.orders} cancels reached the Gelato sandbox; p50/p95/p99 above "
        f"are webhook sent -> cancel arrived.\n   Webhook answered in p50 "
        f"{latency_ms(web.latencies)['p50_ms']} ms; worker CPU "
        f"{worker_cpu / load.orders * 1000:.1f} ms per order (action + report-back); "
        f"{commands / load.orders:.0f} Redis commands per order (web + worker)."
    )


def _round(
    session: requests.Session,
    stack: Stack,
    deliveries: Deliveries,
    count: int,
    rate: float,
    timeout: float,
    processes: Processes,
) -> tuple[dict[str, float], dict[str, float], loadgen.Result]:
    batch = deliveries.batch(SCENARIOS["cancelled"], count)
    order_of_gelato_id = {}
    for order_id in batch.order_ids:
        answer = session.post(
            f"{stack.gelato_url}/_sandbox/orders",
            json={"orderReferenceId": str(order_id), "status": "passed"},
            timeout=10,
        )
        answer.raise_for_status()
        for order in answer.json()["orders"]:
            order_of_gelato_id[order["id"]] = str(order_id)
    web = loadgen.open_loop(HOST, stack.ports[PRINTBRIDGE], batch.requests, rate=rate)
    sent = {str(batch.order_ids[index]): at for index, at in web.sent_at.items()}
    arrived = _wait_for_cancels(session, stack, order_of_gelato_id, timeout)
    if len(arrived) < count:
        print(f"phase C: {count - len(arrived)} cancels missing; {processes.tail('worker')}")
    return sent, arrived, web


def _wait_for_cancels(
    session: requests.Session, stack: Stack, order_of_gelato_id: dict[str, str], timeout: float
) -> dict[str, float]:
    """Order id -> when its first cancel request reached the sandbox (wall clock)."""
    deadline = time.monotonic() + timeout
    arrived: dict[str, float] = {}
    while True:
        log = session.get(f"{stack.gelato_url}/_sandbox/requests", timeout=10).json()
        for entry in log:
            if entry.get("endpoint") != "cancel":
                continue
            gelato_id = entry["path"].rsplit("/", 1)[-1].removesuffix(":cancel")
            order = order_of_gelato_id.get(gelato_id)
            if order is not None and order not in arrived:
                arrived[order] = float(entry["at"])
        if len(arrived) == len(order_of_gelato_id) or time.monotonic() > deadline:
            return arrived
        time.sleep(0.5)
