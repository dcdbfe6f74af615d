"""The README's demo, run as a user runs it, on the embedded defaults (SQLite, embedded Redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bridge.adapters.embedded_redis import stop_embedded_redis
from tests.e2e.conftest import REPO, free_port

pytestmark = pytest.mark.e2e


def test_demo_prints_every_outcome_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "BRIDGE_INSTANCE_PATH": str(instance),
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "bridge", "demo", "--port", str(free_port())],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    # Killed if it hangs: reading its output below would wait for ever.
    watchdog = threading.Timer(180, demo.kill)
    watchdog.start()
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        for line in demo.stdout:
            lines.append(line)
            if "keep running" in line:
                # Stopped as a process manager stops it: everything it started goes too.
                demo.send_signal(signal.SIGTERM)
        output = "".join(lines)
        returncode = demo.wait(timeout=30)
        stopped_by_demo = not stop_embedded_redis(instance)
    finally:
        watchdog.cancel()
        demo.kill()
        demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
        stop_embedded_redis(instance)

    assert returncode == 0, output
    assert "keep running" in output
    table = output.split("store tags", 1)[1].splitlines()
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
