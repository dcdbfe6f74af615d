"""`printbridge demo`: the whole bridge on this machine, against the local sandboxes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import click
import requests

from bridge.adapters.embedded_redis import stop_embedded_redis
from bridge.app import instance_path
from bridge.demo_orders import ORDERS, SHOP, DemoStore, print_table, wait_for_outcomes


@click.command()
@click.option("--port", default=8000, show_default=True, help="Port of the web process.")
@click.option("--exit", "exit_when_done", is_flag=True, help="Stop everything after the table.")
def demo(port: int, exit_when_done: bool) -> None:
    """Start web, worker and both sandboxes; cancel and re-address orders; print outcomes."""
    secret, token, support = (secrets.token_hex(16) for _ in range(3))
    gelato_key = secrets.token_hex(16)
    instance = instance_path()
    logs = Path(tempfile.mkdtemp(prefix="printbridge-demo-"))
    click.echo(f"logs of every process: {logs}")
    # Stopped by a process manager or `timeout` (SIGTERM) as by Ctrl-C: everything it started is
    # stopped, the embedded Redis included.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with _processes(logs) as start:
            gelato = start("gelato sandbox", _sandbox("gelato", "--api-key", gelato_key))
            store = start("store sandbox", _sandbox("store", "--shop", SHOP, "--token", token))
            env = {
                **os.environ,
                # Named for the children: `python -m bridge` run from a checkout imports the
                # checkout, whose default instance folder is not this installation's.
                "BRIDGE_INSTANCE_PATH": str(instance),
                "SHOPIFY_API_SECRET": secret,
                "SHOPIFY_SHOP": SHOP,
                "SHOPIFY_ACCESS_TOKEN": token,
                "GELATO_API_KEY": gelato_key,
                "GELATO_API_URL": gelato,
                "SHOPIFY_ADMIN_URL_TEMPLATE": store
                + "/shops/{shop}/admin/api/{version}/graphql.json",
                "BRIDGE_SUPPORT_TOKEN": support,
                # Short waits, so the demo's not-found order ends within a minute.
                "BRIDGE_NOT_FOUND_GRACE_SECONDS": "10",
                "BRIDGE_RETRY_BASE_SECONDS": "1",
                "BRIDGE_RETRY_CAP_SECONDS": "5",
            }
            migrate = [*_printbridge(), "migrate"]
            subprocess.run(migrate, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
            web_url = f"http://127.0.0.1:{port}"
            start("web", _web(port), env=env, ready_url=web_url + "/readyz")
            start("worker", [*_printbridge(), "worker"], env=env)

            run_id = int(time.time()) % 10**9
            order_ids = [str(run_id * 10 + index) for index in range(len(ORDERS))]
            store_side = DemoStore(web_url, secret, gelato)
            for order_id, order in zip(order_ids, ORDERS, strict=True):
                store_side.play(order_id, order)

            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {support}"
            print_table(wait_for_outcomes(api, web_url, order_ids), store)
            click.echo(f"\nsync log (JSON): {web_url}/api/orders/{SHOP}/{order_ids[0]}")
            click.echo(f"  curl -H 'Authorization: Bearer {support}' {web_url}/api/actions")
            click.echo(f"  SHOPIFY_API_SECRET={secret} printbridge order {SHOP} {order_ids[0]}")
            if not exit_when_done:
                click.echo("\nweb, worker and sandboxes keep running; press Ctrl-C to stop them.")
                signal.pause()
    except KeyboardInterrupt:
        click.echo("\nstopped")
    finally:
        if "REDIS_URL" not in os.environ:
            # The demo's processes are gone; the embedded Redis it started goes with them.
            stop_embedded_redis(instance)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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
