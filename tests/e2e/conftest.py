"""Start printbridge's web and worker processes, as the Procfile does, for one test."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bridge.sandbox import GelatoSandbox, StoreSandbox, serve_in_thread
from tests.conftest import ACCESS_TOKEN, GELATO_KEY, SECRET, SHOP, SUPPORT_TOKEN

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


@dataclass
class Deployment:
    """A running printbridge: its URL and the sandboxes it talks to."""

    url: str
    gelato_url: str
    store_url: str
    logs: Path
    database: Path

    def api(self, path: str) -> requests.Response:
        return requests.get(
            self.url + path, headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}, timeout=10
        )


def procfile_command(process: str) -> list[str]:
    """A Procfile line as written, its program run by this interpreter (`python -m …`)."""
    for line in (REPO / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            program, *arguments = shlex.split(command)
            return [sys.executable, "-m", program, *arguments]
    raise LookupError(f"no {process!r} line in the Procfile")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} not ready in 30s:\n{log.read_text()}")


@pytest.fixture
def web_env() -> dict[str, str]:
    """Variables a test module adds to the processes' environment (override to change them)."""
    return {}


@pytest.fixture
def deployment(tmp_path: Path, redis_url: str, web_env: dict[str, str]) -> Iterator[Deployment]:
    gelato = serve_in_thread(GelatoSandbox(api_key=GELATO_KEY))
    store = serve_in_thread(StoreSandbox(tokens={SHOP: ACCESS_TOKEN}))
    database = tmp_path / "sync-log.sqlite3"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "BRIDGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "SHOPIFY_API_SECRET": SECRET,
        "SHOPIFY_SHOP": SHOP,
        "SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN,
        "GELATO_API_KEY": GELATO_KEY,
        "GELATO_API_URL": gelato.url,
        "SHOPIFY_ADMIN_URL_TEMPLATE": store.url + "/shops/{shop}/admin/api/{version}/graphql.json",
        "BRIDGE_SUPPORT_TOKEN": SUPPORT_TOKEN,
        "BRIDGE_NOT_FOUND_GRACE_SECONDS": "2",
        "BRIDGE_RETRY_BASE_SECONDS": "0.5",
        "BRIDGE_RETRY_CAP_SECONDS": "1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
        **web_env,
    }
    subprocess.run(
        [sys.executable, "-m", "bridge", "migrate"], env=env, cwd=REPO, check=True,
        capture_output=True,
    )  # fmt: skip
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    with web_log.open("wb") as web_out, worker_log.open("wb") as worker_out:
        # The Procfile's web and worker lines, run by this interpreter.
        web = subprocess.Popen(
            procfile_command("web"),
            env=env, cwd=REPO, stdout=web_out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "bridge", "worker"],
            env=env, cwd=REPO, stdout=worker_out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{env['PORT']}"
        try:
            wait_until_ready(url + "/readyz", web, web_log)
            yield Deployment(url, gelato.url, store.url, tmp_path, database)
        finally:
            for process in (web, worker):
                process.terminate()
            for process in (web, worker):
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            gelato.stop()
            store.stop()
