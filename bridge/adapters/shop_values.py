"""Plain values about shops shared by the shop adapters: defaults and what an uninstall did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShopDefaults:
    """The settings a newly installed shop starts with (the environment's)."""

    dry_run: bool
    order_reference: str
    allow_country_change: bool


@dataclass(frozen=True)
class Uninstalled:
    """What an uninstall did: whether it applied, and the waiting actions it ended."""

    applied: bool
    ended_actions: list[str]
