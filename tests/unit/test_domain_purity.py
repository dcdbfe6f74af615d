"""The domain reads no clock and draws no random numbers: they come in as arguments."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "bridge" / "domain"
FORBIDDEN_MODULES = {"time", "random", "secrets", "os", "uuid"}
FORBIDDEN_CALLS = {"now", "utcnow", "today"}


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda path: path.name)
def test_domain_module_reads_no_clock_and_no_randomness(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }

    assert imported.isdisjoint(FORBIDDEN_MODULES)
    assert called.isdisjoint(FORBIDDEN_CALLS)
