"""Outcome rules: the plan per Gelato status, the aggregate per store order, the store tags."""

from __future__ import annotations

import pytest

from bridge.domain.outcomes import (
    CancelPlan,
    Outcome,
    Part,
    aggregate_cancel,
    is_past_the_cut,
    plan_cancel,
)

# Every fulfillmentStatus of reference/gelato.md §3.3, with what a cancel should do about it.
PLAN_BY_STATUS = {
    "created": CancelPlan.CANCEL,
    "uploading": CancelPlan.CANCEL,
    "passed": CancelPlan.CANCEL,
    "in_production": CancelPlan.NOTHING_TOO_LATE,
    "printed": CancelPlan.NOTHING_TOO_LATE,
    # Not known to be past the cut: the cancel is tried and Gelato's answer settles it.
    "draft": CancelPlan.CANCEL,
    "failed": CancelPlan.CANCEL,
    "canceled": CancelPlan.NOTHING_ALREADY_CANCELLED,
    "pending_approval": CancelPlan.CANCEL,
    "pending_personalization": CancelPlan.CANCEL,
    "digitizing": CancelPlan.CANCEL,
    "not_connected": CancelPlan.CANCEL,
    "on_hold": CancelPlan.CANCEL,
    "shipped": CancelPlan.NOTHING_TOO_LATE,
    "in_transit": CancelPlan.NOTHING_TOO_LATE,
    "delivered": CancelPlan.NOTHING_TOO_LATE,
    "returned": CancelPlan.NOTHING_TOO_LATE,
}


@pytest.mark.parametrize(("status", "plan"), PLAN_BY_STATUS.items())
def test_plan_cancel_for_each_documented_status(status: str, plan: CancelPlan) -> None:
    assert plan_cancel(status) is plan


@pytest.mark.parametrize(("status", "plan"), PLAN_BY_STATUS.items())
def test_past_the_cut_means_exactly_the_too_late_plan(status: str, plan: CancelPlan) -> None:
    assert is_past_the_cut(status) is (plan is CancelPlan.NOTHING_TOO_LATE)


def test_british_spelling_of_cancelled_counts_as_already_cancelled() -> None:
    assert plan_cancel("cancelled") is CancelPlan.NOTHING_ALREADY_CANCELLED


@pytest.mark.parametrize("status", ["", "some_future_status"])
def test_unknown_status_is_tried_rather_than_given_up(status: str) -> None:
    assert plan_cancel(status) is CancelPlan.CANCEL


@pytest.mark.parametrize(
    ("parts", "outcome"),
    [
        pytest.param([], Outcome.NOT_FOUND, id="no-gelato-order"),
        pytest.param([Part.CANCELLED], Outcome.CANCELLED, id="one-cancelled"),
        pytest.param([Part.CANCELLED, Part.CANCELLED], Outcome.CANCELLED, id="all-cancelled"),
        pytest.param([Part.ALREADY_CANCELLED], Outcome.ALREADY_CANCELLED, id="one-already"),
        pytest.param(
            [Part.ALREADY_CANCELLED, Part.ALREADY_CANCELLED],
            Outcome.ALREADY_CANCELLED,
            id="all-already",
        ),
        pytest.param(
            [Part.CANCELLED, Part.ALREADY_CANCELLED], Outcome.CANCELLED, id="cancelled+already"
        ),
        pytest.param([Part.TOO_LATE], Outcome.TOO_LATE, id="too-late"),
        pytest.param([Part.TOO_LATE, Part.TOO_LATE], Outcome.TOO_LATE, id="all-too-late"),
        pytest.param(
            [Part.CANCELLED, Part.TOO_LATE], Outcome.PARTIALLY_CANCELLED, id="cancelled+too-late"
        ),
        pytest.param(
            [Part.ALREADY_CANCELLED, Part.TOO_LATE],
            Outcome.PARTIALLY_CANCELLED,
            id="already+too-late",
        ),
        pytest.param([Part.FAILED], Outcome.NEEDS_ATTENTION, id="failed"),
        pytest.param([Part.CANCELLED, Part.FAILED], Outcome.NEEDS_ATTENTION, id="cancelled+failed"),
        pytest.param([Part.TOO_LATE, Part.FAILED], Outcome.NEEDS_ATTENTION, id="too-late+failed"),
        pytest.param([Part.WOULD_CANCEL], Outcome.CANCELLED, id="would-cancel"),
        pytest.param(
            [Part.WOULD_CANCEL, Part.ALREADY_CANCELLED], Outcome.CANCELLED, id="would+already"
        ),
        pytest.param(
            [Part.WOULD_CANCEL, Part.TOO_LATE],
            Outcome.PARTIALLY_CANCELLED,
            id="would+too-late",
        ),
    ],
)
def test_aggregate_cancel(parts: list[Part], outcome: Outcome) -> None:
    assert aggregate_cancel(parts) is outcome
    assert aggregate_cancel(reversed(parts)) is outcome


def test_aggregate_cancel_reads_a_one_shot_iterable() -> None:
    assert aggregate_cancel(iter([Part.CANCELLED, Part.TOO_LATE])) is Outcome.PARTIALLY_CANCELLED


# DESIGN §5, verbatim.
TAG_BY_OUTCOME = {
    Outcome.CANCELLED: "gelato:cancelled",
    Outcome.ALREADY_CANCELLED: "gelato:already-cancelled",
    Outcome.PARTIALLY_CANCELLED: "gelato:partially-cancelled",
    Outcome.TOO_LATE: "gelato:too-late",
    Outcome.ADDRESS_UPDATED: "gelato:address-updated",
    Outcome.PARTIALLY_UPDATED: "gelato:partially-updated",
    Outcome.SUPERSEDED: None,
    Outcome.NOT_FOUND: "gelato:not-found",
    Outcome.NEEDS_ATTENTION: "gelato:needs-attention",
    Outcome.DRY_RUN: None,
}


def test_every_outcome_has_an_entry_in_the_design_table() -> None:
    assert set(TAG_BY_OUTCOME) == set(Outcome)


@pytest.mark.parametrize(("outcome", "tag"), TAG_BY_OUTCOME.items())
def test_outcome_tag_matches_the_design_table(outcome: Outcome, tag: str | None) -> None:
    assert outcome.tag == tag


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_has_a_sentence_for_people(outcome: Outcome) -> None:
    assert outcome.sentence.endswith(".")
    assert len(outcome.sentence) > 10
