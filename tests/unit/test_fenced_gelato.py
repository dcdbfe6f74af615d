"""FencedGelato: every change at Gelato is confirmed first; reads are not."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.adapters.gelato import FencedGelato, GelatoOrder, KeyCheck
from bridge.domain.errors import TransientError
from bridge.domain.retry import Answer


class Recording:
    """A GelatoApi that records the calls that reach it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def find_orders(self, reference: str) -> list[GelatoOrder]:
        self.calls.append("find_orders")
        return []

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        self.calls.append("get_order")
        return None

    def cancel(self, order_id: str) -> Answer:
        self.calls.append("cancel")
        return Answer.OK

    def create_draft(self, order: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("create_draft")
        return {"id": "draft"}

    def confirm_draft(self, order_id: str) -> Answer:
        self.calls.append("confirm_draft")
        return Answer.OK

    def delete_draft(self, order_id: str) -> Answer:
        self.calls.append("delete_draft")
        return Answer.OK

    def check_key(self) -> KeyCheck:
        self.calls.append("check_key")
        return KeyCheck(True, 200, "key accepted")


CHANGES = {
    "cancel": lambda api: api.cancel("g1"),
    "create_draft": lambda api: api.create_draft({}),
    "confirm_draft": lambda api: api.confirm_draft("g1"),
    "delete_draft": lambda api: api.delete_draft("g1"),
}
READS = {
    "find_orders": lambda api: api.find_orders("1001"),
    "get_order": lambda api: api.get_order("g1"),
    "check_key": lambda api: api.check_key(),
}


def lost() -> None:
    raise TransientError("action.lease_lost", "the lock of order 1001 lapsed")


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_is_not_sent_once_the_lock_is_lost(change: str) -> None:
    inner = Recording()
    with pytest.raises(TransientError):
        CHANGES[change](FencedGelato(inner, lost))
    assert inner.calls == []


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_is_confirmed_then_sent(change: str) -> None:
    inner = Recording()
    confirmed: list[str] = []
    CHANGES[change](FencedGelato(inner, lambda: confirmed.append("confirmed")))
    assert (confirmed, inner.calls) == (["confirmed"], [change])


@pytest.mark.parametrize("read", sorted(READS))
def test_reads_need_no_confirmation(read: str) -> None:
    inner = Recording()
    READS[read](FencedGelato(inner, lost))
    assert inner.calls == [read]
