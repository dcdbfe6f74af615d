"""The README's demo, run as a user runs it, on the embedded defaults (SQLite, embedded Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.adapters.embedded_redis import stop_embedded_redis
from tests.e2e.conftest import REPO, free_port

pytestmark = pytest.mark.e2e


def test_demo_prints_every_outcome_and_stops_cleanly(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "BRIDGE_INSTANCE_PATH": str(instance),
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bridge", "demo", "--exit", "--port", str(free_port())],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        # The demo stops the embedded Redis it started: nothing is left running.
        stopped_by_demo = not stop_embedded_redis(instance)
    finally:
        stop_embedded_redis(instance)

    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout.split("store tags", 1)[1].splitlines()
    rows = [line for line in table if line[:1].isdigit()]
    assert [row[58:89].strip() for row in rows] == [
        "cancelled",
        "too_late",
        "partially_cancelled",
        "not_found",
        "address_updated",
        "too_late",
        "address_updated (2 superseded)",
    ]
    assert "gelato:address-updated" in rows[4]
    assert (instance / "printbridge.sqlite3").exists()
    assert stopped_by_demo
