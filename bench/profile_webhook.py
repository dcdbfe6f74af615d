"""Where a webhook's time goes: `python bench/profile_webhook.py [--cprofile] [--processes N]`.

Runs printbridge's app in this process (Flask test client, no HTTP server) against a fresh
SQLite file and a private Redis, sends distinct signed `orders/cancelled` deliveries and prints
the wall time of each stage per request, SQL statements and Redis commands per request.

With `--processes N`, N processes send deliveries at once into the same SQLite file,
as N gunicorn workers would, and it prints their total rate and how long each process waited
for, and held, SQLite's write lock (the transaction starts with BEGIN IMMEDIATE).
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 200
SECRET = "profile-secret"


def _timed(owner: Any, name: str, label: str, totals: dict[str, float]) -> None:
    """Replace owner.name with a wrapper that adds its wall time to totals[label]."""
    original: Callable[..., Any] | None = getattr(owner, name, None)
    if original is None:  # renamed since this tool was written: the stage reads nan
        totals[label] = float("nan")
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - began

    setattr(owner, name, wrapper)


def _client_and_deliveries(count: int, first_order_id: int) -> tuple[Any, list[Any]]:
    from bench.scenarios import SCENARIOS, Deliveries
    from bridge.app import create_app

    app = create_app()
    batch = Deliveries("localhost", SECRET, first_order_id).batch(SCENARIOS["cancelled"], count)
    sent = []
    for raw in batch.requests:
        head, body = raw.split(b"\r\n\r\n", 1)
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        sent.append(
            ({k: v for k, v in headers.items() if k not in ("Host", "Content-Length")}, body)
        )
    return app, sent


def _trace_driver(engine: Any, trace: Callable[[str], None]) -> None:
    """Call `trace(sql)` as each statement starts, on every new sqlite3 connection.

    At the driver, so it sees statements run through SQLAlchemy and on raw connections alike.
    """
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if hasattr(dbapi_connection, "set_trace_callback"):
            dbapi_connection.set_trace_callback(trace)

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections made before the listener get replaced


def _post_all(client: Any, sent: list[Any]) -> None:
    for headers, body in sent:
        assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200


def stages(requests: int, use_cprofile: bool, redis_url: str) -> None:
    """One process: the time of each stage of the webhook path, per request."""
    import redis

    import bridge.intake
    import webhooks.views
    from bridge.adapters.queue import JobQueue
    from bridge.adapters.storage import Storage
    from bridge.app import services_of

    app, sent = _client_and_deliveries(WARMUP + requests, 6_000_000_001)
    engine = services_of(app).storage.engine
    totals: dict[str, float] = defaultdict(float)
    timed = [
        (app, "wsgi_app", "whole request in Flask"),
        (webhooks.views, "read_headers", "  read headers"),
        (webhooks.views, "verify", "  verify HMAC"),
        (webhooks.views, "receive", "  intake.receive"),
        (bridge.intake, "parse_order_event", "    parse the event"),
        (Storage, "record_delivery", "    SQL: record delivery + action"),
        (JobQueue, "enqueue_action", "    RQ: enqueue the job"),
        (JobQueue, "enqueue_new_action", "    RQ: enqueue the job"),
    ]
    for owner, name, label in timed:
        _timed(owner, name, label, totals)
    statements = [0]

    def count(_statement: str) -> None:
        statements[0] += 1

    _trace_driver(engine, count)
    client = app.test_client()
    _post_all(client, sent[:WARMUP])
    totals.clear()
    statements[0] = 0
    connection = redis.Redis.from_url(redis_url)
    connection.config_resetstat()
    profiler = cProfile.Profile() if use_cprofile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.runcall(_post_all, client, sent[WARMUP:])
    else:
        _post_all(client, sent[WARMUP:])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    commands = connection.info("commandstats")
    calls = sum(int(stats["calls"]) for name, stats in commands.items() if name != "cmdstat_config")

    how = " under cProfile" if profiler else ""
    print(f"{requests} deliveries, in process (no HTTP server){how}")
    print(
        f"  per request: {wall / requests * 1000:.2f} ms wall, {cpu / requests * 1000:.2f} ms CPU"
    )
    for label in dict.fromkeys(label for _, _, label in timed):
        print(f"  {label:<40} {totals[label] / requests * 1000:7.3f} ms")
    print(
        f"  SQL statements per request (BEGIN and COMMIT included): {statements[0] / requests:.1f}"
    )
    print(f"  Redis commands per request: {calls / requests:.1f}")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def _lock_worker(index: int, seconds: float) -> tuple[int, float, float, float]:
    """Send deliveries for `seconds`; return (requests, elapsed, lock wait, lock held)."""
    from bridge.app import services_of

    app, sent = _client_and_deliveries(int(seconds * 500) + 100, 7_000_000_001 + index * 1_000_000)
    lock = {"asked": 0.0, "got": 0.0, "wait": 0.0, "held": 0.0, "waiting": 0.0}

    def trace(statement: str) -> None:
        # Called as each statement starts: BEGIN IMMEDIATE returns once the lock is ours, so
        # the next statement's start ends the wait; COMMIT's start ends the holding.
        now, verb = time.perf_counter(), statement.lstrip()[:8].upper()
        if verb.startswith("BEGIN"):
            lock["asked"], lock["waiting"] = now, 1.0
            return
        if lock["waiting"]:
            lock["got"], lock["waiting"] = now, 0.0
            lock["wait"] += now - lock["asked"]
        if verb.startswith(("COMMIT", "ROLLBACK", "END")):
            lock["held"] += now - lock["got"]

    _trace_driver(services_of(app).storage.engine, trace)
    client = app.test_client()
    _post_all(client, sent[:50])
    lock["wait"] = lock["held"] = 0.0
    began, done = time.perf_counter(), 50
    while time.perf_counter() - began < seconds:
        _post_all(client, sent[done : done + 10])
        done += 10
    return done - 50, time.perf_counter() - began, lock["wait"], lock["held"]


def contention(processes: int, seconds: float) -> None:
    """N processes share the SQLite file: their rate and their time around the write lock.

    Holding counts from BEGIN IMMEDIATE's return to just before COMMIT (without its fsync).
    """
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_lock_worker, [(index, seconds) for index in range(processes)])
    total = sum(r[0] for r in results)
    print(f"{processes} process(es), one SQLite file, {seconds:g} s, no HTTP server:")
    print(f"  {total / max(r[1] for r in results):.0f} deliveries/s in all")
    for index, (count, elapsed, wait, held) in enumerate(results):
        print(
            f"  process {index}: {count / elapsed:.0f}/s, waiting for the write lock "
            f"{wait / elapsed:.0%} of its time, holding it {held / elapsed:.0%} "
            f"({held / count * 1000:.2f} ms per delivery before COMMIT)"
        )


def main(argv: list[str] | None = None) -> int:
    # As in webhooks.py: bench/webhooks.py must not shadow printbridge's `webhooks` package.
    sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]
    from bench.processes import Processes, free_port, redis_command, wait_redis
    from bench.scenarios import SHOP

    parser = argparse.ArgumentParser(prog="python bench/profile_webhook.py", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="one-process mode (2000)")
    parser.add_argument("--cprofile", action="store_true", help="also print the top functions")
    parser.add_argument("--processes", type=int, default=0, help="N: the write-lock mode (1: base)")
    parser.add_argument("--seconds", type=float, default=6.0, help="contention mode length (6)")
    args = parser.parse_args(argv)
    temp = Path(tempfile.mkdtemp(prefix="printbridge-profile-"))
    processes = Processes(temp)
    try:
        port = free_port()
        processes.start("redis", redis_command(port, temp))
        redis_url = f"redis://127.0.0.1:{port}/0"
        wait_redis(redis_url)
        os.environ.update(
            SHOPIFY_API_SECRET=SECRET,
            SHOPIFY_SHOP=SHOP,
            SHOPIFY_ACCESS_TOKEN="token",
            GELATO_API_KEY="key",
            DATABASE_URL=f"sqlite:///{temp / 'profile.sqlite3'}",
            REDIS_URL=redis_url,
            BRIDGE_SECRET_KEY="profile",
            BRIDGE_INSTANCE_PATH=str(temp / "instance"),
        )
        migrate = [sys.executable, "-m", "bridge", "migrate"]
        subprocess.run(migrate, cwd=ROOT, check=True, capture_output=True)
        if args.processes > 0:
            contention(args.processes, args.seconds)
        else:
            stages(args.requests, args.cprofile, redis_url)
    finally:
        processes.stop_all()
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
