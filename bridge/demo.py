"""`printbridge demo`: the whole bridge on this machine, against the local sandboxes."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
import requests

from bridge.adapters.embedded_redis import stop_embedded_redis
from bridge.app import instance_path
from webhooks.signature import sign

SHOP = "demo-store.myshopify.com"
FINAL_WAIT_SECONDS = 90


@dataclass(frozen=True)
class DemoOrder:
    """A store order the demo cancels, and what Gelato holds for it."""

    label: str
    statuses: tuple[str, ...]


ORDERS = (
    DemoOrder("still passed", ("passed",)),
    DemoOrder("already printed", ("printed",)),
    DemoOrder("split: passed + printed", ("passed", "printed")),
    DemoOrder("unknown to Gelato", ()),
)


@click.command()
@click.option("--port", default=8000, show_default=True, help="Port of the web process.")
@click.option("--exit", "exit_when_done", is_flag=True, help="Stop everything after the table.")
def demo(port: int, exit_when_done: bool) -> None:
    """Start web, worker and both sandboxes; cancel seeded orders; print each outcome."""
    secret, token, support = (secrets.token_hex(16) for _ in range(3))
    gelato_key = secrets.token_hex(16)
    logs = Path(tempfile.mkdtemp(prefix="printbridge-demo-"))
    click.echo(f"logs of every process: {logs}")
    with _processes(logs) as start:
        gelato = start("gelato sandbox", _sandbox("gelato", "--api-key", gelato_key))
        store = start("store sandbox", _sandbox("store", "--shop", SHOP, "--token", token))
        env = {
            **os.environ,
            "SHOPIFY_API_SECRET": secret,
            "SHOPIFY_SHOP": SHOP,
            "SHOPIFY_ACCESS_TOKEN": token,
            "GELATO_API_KEY": gelato_key,
            "GELATO_API_URL": gelato,
            "SHOPIFY_ADMIN_URL_TEMPLATE": store + "/shops/{shop}/admin/api/{version}/graphql.json",
            "BRIDGE_SUPPORT_TOKEN": support,
            # Short waits, so the demo's not-found order ends within a minute.
            "BRIDGE_NOT_FOUND_GRACE_SECONDS": "10",
            "BRIDGE_RETRY_BASE_SECONDS": "1",
            "BRIDGE_RETRY_CAP_SECONDS": "5",
        }
        subprocess.run([*_printbridge(), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        web_url = f"http://127.0.0.1:{port}"
        start("web", _web(port), env=env, ready_url=web_url + "/readyz")
        start("worker", [*_printbridge(), "worker"], env=env)

        run_id = int(time.time())
        order_ids = [str(run_id * 10 + index) for index in range(len(ORDERS))]
        for order_id, order in zip(order_ids, ORDERS, strict=True):
            if order.statuses:
                requests.post(
                    f"{gelato}/_sandbox/orders",
                    json={
                        "orderReferenceId": order_id,
                        "parts": len(order.statuses),
                        "statuses": list(order.statuses),
                    },
                    timeout=10,
                ).raise_for_status()
            answer = send_cancellation(web_url, secret, order_id)
            click.echo(f"sent orders/cancelled for order {order_id} ({order.label}): {answer}")
        # The same delivery again, as stores do: it is recorded as a duplicate, nothing more.
        send_cancellation(web_url, secret, order_ids[0])

        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {support}"
        documents = _wait_for_outcomes(api, web_url, order_ids)
        _print_table(documents, ORDERS, store)
        click.echo(f"\nsync log (JSON): {web_url}/api/orders/{SHOP}/{order_ids[0]}")
        click.echo(f"  curl -H 'Authorization: Bearer {support}' {web_url}/api/actions")
        click.echo(f"  SHOPIFY_API_SECRET={secret} printbridge order {SHOP} {order_ids[0]}")
        if not exit_when_done:
            click.echo("\nweb, worker and sandboxes keep running; press Ctrl-C to stop them.")
            with suppress(KeyboardInterrupt):
                signal.pause()
    if "REDIS_URL" not in os.environ:
        # The demo's processes are gone; the embedded Redis it started goes with them.
        stop_embedded_redis(instance_path())


def send_cancellation(web_url: str, secret: str, order_id: str) -> int:
    """Send a signed orders/cancelled delivery for one order; return the answer's status."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    body = json.dumps(
        {
            "id": int(order_id),
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{order_id[-4:]}",
            "order_number": int(order_id[-4:]),
            "cancelled_at": now,
            "cancel_reason": "customer",
            "updated_at": now,
        }
    ).encode()
    response = requests.post(
        f"{web_url}/webhooks/shopify",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/cancelled",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Hmac-Sha256": sign(body, secret),
            "X-Shopify-Webhook-Id": f"demo-{order_id}",
            "X-Shopify-Event-Id": f"demo-event-{order_id}",
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Triggered-At": now,
        },
        timeout=10,
    )
    return response.status_code


def _wait_for_outcomes(
    api: requests.Session, web_url: str, order_ids: list[str]
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + FINAL_WAIT_SECONDS
    documents: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for order_id in order_ids:
            response = api.get(f"{web_url}/api/orders/{SHOP}/{order_id}", timeout=10)
            if response.ok:
                documents[order_id] = response.json()
        if all(_finished(documents.get(order_id)) for order_id in order_ids):
            return documents
        time.sleep(0.5)
    raise click.ClickException("not every order reached an outcome in time; see the sync log")


def _finished(document: dict[str, Any] | None) -> bool:
    if not document or not document["actions"]:
        return False
    action = document["actions"][-1]
    return action["outcome"] is not None and action["report"]["state"] != "pending"


def _print_table(
    documents: dict[str, dict[str, Any]], orders: tuple[DemoOrder, ...], store_url: str
) -> None:
    click.echo(f"\n{'order':<14} {'case':<26} {'gelato orders':<22} {'outcome':<22} store tags")
    for (order_id, document), order in zip(documents.items(), orders, strict=True):
        action = document["actions"][-1]
        tags = requests.get(f"{store_url}/_sandbox/orders/{SHOP}/{order_id}", timeout=10).json()
        parts = ", ".join(str(part.get("status_found")) for part in action["gelato_orders"])
        click.echo(
            f"{order_id:<14} {order.label:<26} {parts or '-':<22} {action['outcome']:<22} "
            f"{', '.join(tags.get('tags', [])) or '-'}"
        )


def _printbridge() -> list[str]:
    return [sys.executable, "-m", "bridge"]


def _sandbox(kind: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "bridge.sandbox", kind, "--port", "0", *args]


def _web(port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--access-logfile", "-", "wsgi:app",
    ]  # fmt: skip


@contextmanager
def _processes(logs: Path) -> Iterator[Any]:
    """Start child processes logging into `logs`; stop them all (newest first) at the end."""
    children: list[tuple[str, subprocess.Popen[str]]] = []
    log_files: list[IO[str]] = []

    def start(
        name: str,
        command: list[str],
        env: dict[str, str] | None = None,
        ready_url: str | None = None,
    ) -> str:
        is_sandbox = ready_url is None and "bridge.sandbox" in command
        log_file = (logs / f"{name.replace(' ', '-')}.log").open("w")
        log_files.append(log_file)
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            command,
            env=env,
            text=True,
            stdout=subprocess.PIPE if is_sandbox else log_file,
            stderr=log_file,
        )
        children.append((name, process))
        if is_sandbox:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("ready "):
                raise click.ClickException(f"{name} did not start")
            return line.removeprefix("ready ")
        if ready_url:
            _wait_ready(name, ready_url, process)
        return ""

    try:
        yield start
    finally:
        for _name, process in reversed(children):
            process.terminate()
        for _name, process in reversed(children):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for log_file in log_files:
            log_file.close()


def _wait_ready(name: str, url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"{name} exited with {process.returncode}")
        with suppress(requests.RequestException):
            if requests.get(url, timeout=1).ok:
                return
        time.sleep(0.2)
    raise click.ClickException(f"{name} did not become ready at {url}")
