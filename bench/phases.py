"""Phase A (closed-loop maximum throughput) and phase B (open-loop latency at half of it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import loadgen
from bench.processes import Processes, cpu_by_process, machine_busy_seconds
from bench.report import Report, latency_ms
from bench.scenarios import Deliveries, Scenario
from bench.stack import BARE, FLOOR, PRINTBRIDGE, Stack

HOST = "127.0.0.1"
BARE_POOL = 5000  # the bare app ignores what it reads, so it cycles through one pool


@dataclass(frozen=True)
class Load:
    """How hard and how long each phase pushes."""

    duration: float
    connections: int
    rounds: int
    warmup: float
    open_loop_connections: int = 64


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds used during one load: the target's processes, all of ours, the machine."""

    server: float
    ours: float
    machine: float
    # The busiest single process of the target (a gunicorn worker): with keep-alive, one worker
    # may hold most connections, and one Python process uses at most about one core.
    busiest: float


def _figures(result: loadgen.Result, cpu: CpuUse) -> dict[str, Any]:
    elapsed, done = result.elapsed or math.nan, result.completed

    def cores(seconds: float) -> float:
        return round(seconds / elapsed, 2)

    return {
        "rps": round(result.rps, 1),
        "ok": result.statuses.get(200, 0),
        "errors": result.errors,
        "statuses": {str(status): count for status, count in sorted(result.statuses.items())},
        **latency_ms(result.latencies),
        "seconds": round(result.elapsed, 2),
        "server_cpu_ms_per_req": round(cpu.server / done * 1000, 3) if done else None,
        "server_cpu_cores": cores(cpu.server),
        "busiest_process_cores": cores(cpu.busiest),
        "client_cpu_cores": cores(result.client_cpu),
        # Busy CPU of processes this run did not start (other jobs on a shared machine).
        "other_cpu_cores": cores(max(0.0, cpu.machine - cpu.ours)),
        "pool_exhausted": result.exhausted,
    }


def _measured(
    processes: Processes, target: str, run: Callable[[], loadgen.Result]
) -> tuple[loadgen.Result, CpuUse]:
    """Run the load; return its result and the CPU used meanwhile."""
    pid = processes.pid(target)
    before_each, ours_before, machine_before = (
        cpu_by_process(pid),
        processes.cpu_seconds(),
        machine_busy_seconds(),
    )
    result = run()
    after_each, ours_after, machine_after = (
        cpu_by_process(pid),
        processes.cpu_seconds(),
        machine_busy_seconds(),
    )
    each = [used - before_each.get(process, 0.0) for process, used in after_each.items()]
    used = CpuUse(
        sum(each), ours_after - ours_before, machine_after - machine_before, max(each, default=0.0)
    )
    return result, used


def max_throughput(
    processes: Processes,
    stack: Stack,
    deliveries: Deliveries,
    scenario: Scenario,
    load: Load,
    report: Report,
) -> float:
    """Phase A: the apps, closed loop, rounds alternated (ABBA); return printbridge's mean rps.

    With the floor app running (not `--skip-floor`), it is measured in each round too.
    """
    bare_pool = deliveries.batch(scenario, BARE_POOL).requests
    targets = tuple(target for target in (BARE, PRINTBRIDGE, FLOOR) if target in stack.ports)

    def run(target: str, seconds: float, pool_size: int) -> tuple[loadgen.Result, CpuUse]:
        port = stack.ports[target]
        if target != PRINTBRIDGE:
            # Neither the bare app nor the floor keeps anything: one pool, cycled.
            payloads, cycle = bare_pool, True
        else:
            batch = deliveries.batch(scenario, pool_size)
            _send_primes(port, batch.primes, load)
            payloads, cycle = batch.requests, False
        return _measured(
            processes,
            target,
            lambda: loadgen.closed_loop(
                HOST, port, payloads, connections=load.connections, duration=seconds, cycle=cycle
            ),
        )

    warm_rps = 0.0
    for target in targets:
        warm, _ = run(target, load.warmup, 5000)
        if target == PRINTBRIDGE:
            warm_rps = warm.rps
    # Enough distinct deliveries for the measured window, with a wide margin.
    pool = max(4000, math.ceil(warm_rps * load.duration * 3) + 500)
    rps: dict[str, list[float]] = {target: [] for target in targets}
    for round_number in range(load.rounds):
        order = targets if round_number % 2 == 0 else targets[::-1]
        for target in order:
            result, cpu = run(target, load.duration, pool)
            figures = _figures(result, cpu)
            report.add(
                f"A closed loop, round {round_number + 1}", _label(target, scenario), **figures
            )
            rps[target].append(result.rps)
    means = {target: sum(values) / len(values) for target, values in rps.items()}
    ratio = means[PRINTBRIDGE] / means[BARE] if means[BARE] else 0.0
    for target in targets:
        report.add("A closed loop, mean", _label(target, scenario), rps=round(means[target], 1))
    if FLOOR in means and means[BARE]:
        report.notes.append(
            f"A ({scenario.name}): without recording and queueing, printbridge would serve"
            f" {means[FLOOR] / means[BARE]:.3f} of the bare app's rate"
            f" ({means[FLOOR]:.1f} req/s, bench/floor_app.py)."
        )
    report.check(
        f"ratio printbridge/bare rps ({scenario.name})",
        ratio,
        scenario.ratio_target,
        at_least=True,
    )

    return means[PRINTBRIDGE]


def latency_at_rate(
    processes: Processes,
    stack: Stack,
    deliveries: Deliveries,
    scenario: Scenario,
    load: Load,
    rate: float,
    report: Report,
) -> None:
    """Phase B: printbridge alone at a fixed arrival rate; latency from the scheduled send."""
    count = max(1, math.ceil(rate * load.duration))
    batch = deliveries.batch(scenario, count)
    port = stack.ports[PRINTBRIDGE]
    _send_primes(port, batch.primes, load)
    result, cpu = _measured(
        processes,
        PRINTBRIDGE,
        lambda: loadgen.open_loop(
            HOST, port, batch.requests, rate=rate, max_connections=load.open_loop_connections
        ),
    )
    figures = _figures(result, cpu)
    report.add(
        f"B open loop, {rate:.1f}/s",
        _label(PRINTBRIDGE, scenario),
        offered_rps=round(rate, 1),
        **figures,
    )
    report.check(
        f"p99 ms at half max rate ({scenario.name})",
        figures["p99_ms"],
        scenario.p99_target_ms,
        at_least=False,
    )


def _send_primes(port: int, primes: list[bytes], load: Load) -> None:
    """Deliveries that set an order up for its scenario: sent untimed, before the measure."""
    if primes:
        result = loadgen.closed_loop(
            HOST, port, primes, connections=load.connections, duration=3600
        )
        if result.errors:
            raise RuntimeError(f"priming deliveries failed: {dict(result.statuses)}")


def _label(target: str, scenario: Scenario) -> str:
    if target == BARE:
        return "bare Flask"
    if target == FLOOR:
        return f"floor {scenario.name}"
    return f"printbridge {scenario.name}"
