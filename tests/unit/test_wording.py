"""Actions in plain words: what support reads first on an order's timeline."""

from __future__ import annotations

from bridge.domain.wording import explain, headline, part_sentence, status_words


def test_too_late_split_order_names_the_printed_part_first() -> None:
    parts = [
        {"id": "a", "status_found": "passed", "result": "cancelled"},
        {"id": "b", "status_found": "printed", "result": "too_late"},
    ]

    said = explain("partially_cancelled", "done", parts)

    assert said == (
        "Partly cancelled: Gelato order 2/2 (b) was already printed; "
        "Gelato order 1/2 (a) was cancelled (it was passed)."
    )


def test_too_late_single_order_reads_like_the_issue() -> None:
    parts = [{"id": "g1", "status_found": "shipped", "result": "too_late"}]

    assert explain("too_late", "done", parts) == "Too late: Gelato order (g1) was already shipped."


def test_a_409_on_an_order_found_before_the_cut_says_so() -> None:
    part = {"id": "g1", "status_found": "passed", "result": "too_late", "reason": "gelato.conflict"}

    assert "had gone to production when asked (Gelato answered 409)" in part_sentence("", part)


def test_dry_run_preview_says_what_would_be_done() -> None:
    part = {"id": "g1", "status_found": "passed", "result": "would_cancel"}

    assert part_sentence("", part) == "would cancel Gelato order (g1), now `passed`"
    assert explain("dry_run", "done", [part], would_be="cancelled").startswith(
        "Dry run (would be: cancelled): would cancel"
    )


def test_not_found_and_needs_attention_carry_the_reference_or_the_message() -> None:
    assert explain("not_found", "done", [], reference="1042") == (
        "Not found at Gelato: no Gelato order carries the reference 1042."
    )
    assert explain("needs_attention", "done", [], message="Gelato answered 401") == (
        "Needs attention: Gelato answered 401"
    )


def test_unfinished_actions_and_unknown_words_fall_back_gracefully() -> None:
    assert headline(None, "retrying") == "Retrying"
    assert headline("something_new", "done") == "something_new"
    assert status_words(None) == "in an unknown status"
    assert status_words("on_hold") == "on hold"
