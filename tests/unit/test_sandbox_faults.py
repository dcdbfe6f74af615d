"""The Gelato sandbox's fault plan: queued faults first, then seeded random faults at set rates."""

from __future__ import annotations

from collections import Counter

import pytest

from bridge.sandbox.faults import Fault, FaultPlan, FaultRates, parse_rates
from bridge.sandbox.replies import SandboxError

DRAWS = 20_000


def kinds(plan: FaultPlan, endpoint: str = "get", draws: int = DRAWS) -> Counter[str]:
    found: Counter[str] = Counter()
    for _ in range(draws):
        fault = plan.next_fault(endpoint)
        found[fault.kind if fault else "none"] += 1
    return found


def test_random_faults_come_at_the_set_rates() -> None:
    plan = FaultPlan()
    plan.set_rates(FaultRates(server_error=0.3, too_many=0.1, timeout=0.05, retry_after=3), 11)
    found = kinds(plan)
    for kind, rate in {"5xx": 0.3, "429": 0.1, "timeout": 0.05, "none": 0.55}.items():
        assert found[kind] / DRAWS == pytest.approx(rate, abs=0.015), kind


def test_the_same_seed_draws_the_same_faults() -> None:
    plan = FaultPlan()
    rates = FaultRates(server_error=0.3, too_many=0.1, timeout=0.05)
    plan.set_rates(rates, 5)
    first = [plan.next_fault("cancel") for _ in range(200)]
    plan.set_rates(rates, 5)
    assert [plan.next_fault("cancel") for _ in range(200)] == first


def test_a_429_carries_retry_after_and_a_5xx_only_its_own() -> None:
    plan = FaultPlan()
    plan.set_rates(FaultRates(server_error=0.5, too_many=0.5, retry_after=3), 1)
    faults = [plan.next_fault("search") for _ in range(100)]
    assert {(f.kind, f.status in (500, 502, 503), f.retry_after) for f in faults if f} == {
        ("429", False, 3),
        ("5xx", True, None),
    }
    plan.set_rates(FaultRates(server_error=1.0, server_error_retry_after=1), 1)
    fault = plan.next_fault("search")
    assert fault is not None
    assert (fault.kind, fault.retry_after) == ("5xx", 1)


def test_a_timeout_fault_lasts_the_set_seconds() -> None:
    plan = FaultPlan()
    plan.set_rates(FaultRates(timeout=1.0, timeout_seconds=4), None)
    fault = plan.next_fault("cancel")
    assert fault is not None
    assert (fault.kind, fault.timeout) == ("timeout", 4)


def test_rates_for_one_endpoint_leave_the_others_alone() -> None:
    plan = FaultPlan()
    plan.set_rates(FaultRates(server_error=1.0, endpoint="cancel"), 3)
    assert kinds(plan, "search", 100) == {"none": 100}
    assert kinds(plan, "cancel", 100) == {"5xx": 100}


def test_queued_faults_come_before_random_ones() -> None:
    plan = FaultPlan()
    plan.set_rates(FaultRates(server_error=1.0), 3)
    plan.queue(Fault(status=429, retry_after=2), 2)
    faults = [plan.next_fault("get") for _ in range(3)]
    assert [fault.kind if fault else None for fault in faults] == ["429", "429", "5xx"]


def test_reset_forgets_rates_and_latency() -> None:
    plan = FaultPlan()
    plan.set_rates(FaultRates(server_error=1.0), 3)
    plan.set_latency(1.0)
    plan.reset()
    assert plan.next_fault("get") is None
    assert plan.latency == 0.0


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault(timeout=1.0, status=503), "timeout"),
        (Fault(status=429), "429"),
        (Fault(status=502), "5xx"),
        (Fault(status=400), "4xx"),
        (Fault(delay=0.5), "delay"),
    ],
)
def test_each_fault_has_a_kind_for_the_request_log(fault: Fault, kind: str) -> None:
    assert fault.kind == kind


def test_parse_rates_reads_every_field_and_the_seed() -> None:
    body = {
        "5xx": 0.3, "429": 0.1, "timeout": 0.05, "retry_after": 3, "5xx_retry_after": 1,
        "timeout_seconds": 4, "endpoint": "cancel", "seed": 42,
    }  # fmt: skip
    assert parse_rates(body) == (
        FaultRates(
            server_error=0.3, too_many=0.1, timeout=0.05, retry_after=3,
            server_error_retry_after=1, timeout_seconds=4, endpoint="cancel",
        ),
        42,
    )  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"5xx": 0.6, "429": 0.3, "timeout": 0.2},
        {"5xx": -0.1},
        {"429": True},
        {"retry_after": "soon"},
        {"endpoint": "refund"},
        {"seed": 1.5},
    ],
)
def test_parse_rates_refuses_bad_bodies(body: dict[str, object]) -> None:
    with pytest.raises(SandboxError) as refused:
        parse_rates(body)
    assert refused.value.status == 400
