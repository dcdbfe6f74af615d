"""A printbridge of real processes for the worker and Gelato fault runs: gunicorn, RQ workers
that can be SIGKILLed and restarted, PostgreSQL, the test session's Redis, both sandboxes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from bridge.sandbox import GelatoSandbox, StoreSandbox, serve_in_thread
from tests.conftest import ACCESS_TOKEN, GELATO_KEY, SECRET, SHOP, SUPPORT_TOKEN
from tests.support.webhooks import (
    NEW_ADDRESS,
    delivery_headers,
    encode,
    order_payload,
    updated_payload,
)

# When the runs' store orders were created, and when their address was edited.
CREATED_AT, EDITED_AT = "2026-11-20T10:00:00-05:00", "2026-11-20T10:05:00-05:00"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "faults"


class Control:
    """A sandbox's control endpoints over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(self.url + path, json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = self.http.get(self.url + path, timeout=60)
        response.raise_for_status()
        return response.json()


@dataclass
class Stack:
    """The running processes and how to reach them."""

    url: str
    gelato: Control
    store: Control
    database_url: str
    env: dict[str, str]
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Every worker's process group, killed ones too: their scheduler may outlive them.
    groups: list[int] = field(default_factory=list)
    kills: int = 0
    http: requests.Session = field(default_factory=requests.Session)
    # The Gelato sandbox itself (it runs in this process): to seed thousands of orders at once.
    gelato_sandbox: GelatoSandbox | None = None

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Start one more `printbridge worker` process, as the Procfile does."""
        number = len(self.workers) + self.kills
        with (self.logs / f"worker-{number}.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "worker"],
                env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                # Its own group: the scheduler it forks is stopped with it at the end.
                start_new_session=True,
            )  # fmt: skip
        self.workers.append(process)
        self.groups.append(process.pid)
        return process

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a worker process, as the kernel's OOM killer or a lost machine would."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.workers.remove(process)
        self.kills += 1

    def send(self, topic: str, payload: dict[str, Any], webhook_id: str | None = None) -> int:
        """Deliver one signed webhook to the web tier; its HTTP status."""
        body = encode(payload)
        response = self.http.post(
            self.url + "/webhooks/shopify",
            data=body,
            headers=delivery_headers(body, topic=topic, webhook_id=webhook_id),
            timeout=10,
        )
        return response.status_code

    def actions(self) -> list[dict[str, Any]]:
        """Every action in the sync log, with its attempts' results."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.text(
                        "SELECT id, order_id, kind, outcome, reason, detail, report_state"
                        " FROM actions"
                    )
                ).mappings()
                found = [dict(row) for row in rows]
                attempts = connection.execute(
                    sa.text("SELECT action_id, result, reason FROM attempts")
                ).mappings()
                by_action: dict[str, list[dict[str, Any]]] = {}
                for attempt in attempts:
                    by_action.setdefault(attempt["action_id"], []).append(dict(attempt))
        finally:
            engine.dispose()
        for action in found:
            if isinstance(action["detail"], str):
                action["detail"] = json.loads(action["detail"])
            action["attempts"] = by_action.get(action["id"], [])
        return found

    def finished(self, expected: int) -> list[dict[str, Any]] | None:
        """Every action, once `expected` of them have an outcome and their report-back done."""
        actions = self.actions()
        done = [a for a in actions if a["outcome"] and a["report_state"] != "pending"]
        return actions if len(done) >= expected else None


def deliver_all(stack: Stack, kinds: dict[int, str], senders: int) -> list[tuple[int, float]]:
    """Send each order's event from `senders` threads, in the order given: `cancel` as
    orders/cancelled, `address_update` as orders/updated to NEW_ADDRESS at EDITED_AT. Each
    answer's status and seconds, in the same order."""

    def one(order_id: int) -> tuple[int, float]:
        started = time.monotonic()
        if kinds[order_id] == "cancel":
            status = stack.send("orders/cancelled", order_payload(order_id))
        else:
            status = stack.send("orders/updated", updated_payload(order_id, NEW_ADDRESS, EDITED_AT))
        return status, time.monotonic() - started

    with ThreadPoolExecutor(senders) as pool:
        return list(pool.map(one, kinds))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"web exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready in 30s:\n{log.read_text()}")


@contextmanager
def running_stack(
    tmp_path: Path,
    redis_url: str,
    database_url: str,
    workers: int,
    *,
    procfile_web: bool = False,
    **settings: str,
) -> Iterator[Stack]:
    """Start the sandboxes, migrate, start gunicorn and `workers` worker processes.

    gunicorn runs with two sync processes, or with `procfile_web` as the Procfile's web line
    does: `--config gunicorn.conf.py`, its sizes from the environment (WEB_CONCURRENCY and the
    admission gate's settings), on PORT.
    """
    gelato_sandbox = GelatoSandbox(api_key=GELATO_KEY)
    gelato = serve_in_thread(gelato_sandbox)
    store = serve_in_thread(StoreSandbox(tokens={SHOP: ACCESS_TOKEN}))
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PORT": str(port),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "BRIDGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SHOPIFY_API_SECRET": SECRET,
        "SHOPIFY_SHOP": SHOP,
        "SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN,
        "GELATO_API_KEY": GELATO_KEY,
        "GELATO_API_URL": gelato.url,
        "SHOPIFY_ADMIN_URL_TEMPLATE": store.url + "/shops/{shop}/admin/api/{version}/graphql.json",
        "BRIDGE_SUPPORT_TOKEN": SUPPORT_TOKEN,
        **settings,
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    subprocess.run(
        [sys.executable, "-m", "bridge", "migrate"], env=env, cwd=REPO, check=True,
        capture_output=True,
    )  # fmt: skip
    web_log = logs / "web.log"
    if procfile_web:
        # The Procfile's `web:` line; gunicorn.conf.py binds 0.0.0.0:$PORT.
        web_args = ["--config", "gunicorn.conf.py", "--access-logfile", "-", "wsgi:app"]
    else:
        web_args = ["--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"]
    with web_log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *web_args],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    stack = Stack(
        f"http://127.0.0.1:{port}", Control(gelato.url), Control(store.url), database_url, env,
        logs, gelato_sandbox=gelato_sandbox,
    )  # fmt: skip
    try:
        _wait_until_ready(stack.url + "/readyz", web, web_log)
        for _ in range(workers):
            stack.start_worker()
        yield stack
    finally:
        for process in stack.workers:
            # The group: the worker and the scheduler process it forked.
            os.killpg(process.pid, signal.SIGTERM)
        web.terminate()
        for process in [*stack.workers, web]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for group in stack.groups:
            # A scheduler left behind by a killed worker is in its group too.
            with suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        gelato.stop()
        store.stop()


def write_figures(name: str, figures: dict[str, Any]) -> Path:
    """Write a run's figures to test-artifacts/faults/<name>.json and print them."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"\n{name}: {json.dumps(figures, sort_keys=True)}")
    return path
