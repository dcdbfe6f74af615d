"""`python -m bridge.sandbox` serves a sandbox in the foreground and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "args",
    [
        ["gelato", "--api-key", "cli-key"],
        ["store", "--shop", "demo.myshopify.com", "--token", "cli-token"],
        ["oauth", "--client-id", "cli-client", "--client-secret", "cli-secret"],
    ],
)
def test_sandbox_command_prints_ready_url_and_stops_cleanly_on_sigterm(args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bridge.sandbox", *args[:1], "--port", "0", *args[1:]]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("ready http://127.0.0.1:")
            url = line.removeprefix("ready ")
            assert not url.endswith(":0")
            # The control endpoint needs no credentials, so a 200 proves the sandbox listens.
            answer = requests.post(url + "/_sandbox/reset", timeout=10)
            assert answer.status_code == 200
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
