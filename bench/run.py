"""One benchmark run: start the stack, run the phases, always stop every process."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.gelato_path import GelatoLoad, cancel_latency
from bench.phases import Load, latency_at_rate, max_throughput
from bench.processes import Processes, ServerSettings, raise_on_sigterm, redis_executable
from bench.report import Report, machine_facts
from bench.scenarios import Deliveries, Scenario
from bench.stack import start_stack

# printbridge settings from the caller's shell must not leak into the run.
INHERITED = ("BRIDGE_", "SHOPIFY_", "GELATO_", "DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY")


def run(args: argparse.Namespace, scenarios: list[Scenario]) -> Report:
    """Run phases A and B for each scenario, then phase C; return the report."""
    settings = ServerSettings(args.workers, args.inflight, args.queued)
    load = Load(args.duration, args.connections, args.rounds, args.warmup)
    report = Report(
        machine=machine_facts(),
        settings={
            "gunicorn": settings.facts(),
            "load": load.__dict__,
            "load_generator": "bench/loadgen.py (asyncio, one process, pre-encoded requests)",
            "database": "SQLite file in a fresh temp dir",
            "redis": f"private {redis_executable()}, AOF fsync every second",
            "gelato": {"orders": args.orders, "rate": args.gelato_rate},
        },
    )
    raise_on_sigterm()
    temp = Path(tempfile.mkdtemp(prefix="printbridge-bench-"))
    processes = Processes(temp)
    began = time.monotonic()
    try:
        _say(f"starting Redis, sandboxes and both gunicorns ({temp})")
        env = {key: value for key, value in os.environ.items() if not key.startswith(INHERITED)}
        env.update(settings.environment())
        stack = start_stack(processes, temp, settings, env, floor=not args.skip_floor)
        deliveries = Deliveries(f"127.0.0.1:{stack.ports['printbridge']}", stack.secret)
        for scenario in scenarios:
            _say(f"phase A: {scenario.topic}, {load.rounds} x {load.duration:g}s per app")
            max_rps = max_throughput(processes, stack, deliveries, scenario, load, report)
            _say(f"phase B: {scenario.topic} at {max_rps / 2:.1f}/s for {load.duration:g}s")
            latency_at_rate(processes, stack, deliveries, scenario, load, max_rps / 2, report)
        if not args.skip_gelato:
            _say(f"phase C: {args.orders} cancellations at {args.gelato_rate:g}/s with a worker")
            gelato = GelatoLoad(args.orders, args.gelato_rate)
            cancel_latency(processes, stack, deliveries, gelato, report)
    finally:
        processes.stop_all()
        if args.keep_temp:
            _say(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)
    report.settings["total_seconds"] = round(time.monotonic() - began, 1)
    return report


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)
