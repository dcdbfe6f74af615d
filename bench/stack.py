"""Everything a run serves: Redis, both sandboxes, the bare app and printbridge under gunicorn."""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import redis
import sqlalchemy as sa

from bench.processes import (
    ROOT,
    Processes,
    ServerSettings,
    free_port,
    redis_command,
    wait_redis,
)
from bench.scenarios import SHOP

BARE = "bare"
PRINTBRIDGE = "printbridge"
FLOOR = "floor"  # printbridge without recording and queueing (bench/floor_app.py)


@dataclass(frozen=True)
class Stack:
    """Addresses and secrets of one run's processes."""

    ports: dict[str, int]
    secret: str
    gelato_url: str
    store_url: str
    redis_url: str
    env: dict[str, str]

    def flush_queue(self) -> None:
        """Drop phase A and B's work (they fill the queue while no worker runs).

        Their actions are also closed in the sync log: otherwise the worker's sweep would find
        them recorded but not queued, queue them all again, and phase C would measure that.
        """
        connection = redis.Redis.from_url(self.redis_url)
        connection.flushdb()
        connection.close()
        engine = sa.create_engine(self.env["DATABASE_URL"])
        with engine.begin() as database:
            database.execute(
                sa.text(
                    "UPDATE actions SET state = 'done', outcome = 'dry_run', "
                    "report_state = 'none', message = 'benchmark load, not run' "
                    "WHERE state != 'done'"
                )
            )
        engine.dispose()


def printbridge_env(
    base: dict[str, str], temp: Path, redis_url: str, gelato: Sandbox, store: Sandbox
) -> tuple[dict[str, str], str]:
    """The environment of the web and worker processes, and the webhook secret."""
    secret = secrets.token_hex(16)
    env = {
        **base,
        "SHOPIFY_API_SECRET": secret,
        "SHOPIFY_SHOP": SHOP,
        "SHOPIFY_ACCESS_TOKEN": store.key,
        "GELATO_API_KEY": gelato.key,
        "GELATO_API_URL": gelato.url,
        "SHOPIFY_ADMIN_URL_TEMPLATE": store.url + "/shops/{shop}/admin/api/{version}/graphql.json",
        "DATABASE_URL": f"sqlite:///{temp / 'printbridge.sqlite3'}",
        "REDIS_URL": redis_url,
        "BRIDGE_SECRET_KEY": secrets.token_hex(16),
        "BRIDGE_INSTANCE_PATH": str(temp / "instance"),
        # As the demo sets them: short waits, should anything be retried.
        "BRIDGE_NOT_FOUND_GRACE_SECONDS": "10",
        "BRIDGE_RETRY_BASE_SECONDS": "1",
        "BRIDGE_RETRY_CAP_SECONDS": "5",
    }
    return env, secret


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox and the credential it accepts."""

    url: str
    key: str


def start_stack(
    processes: Processes,
    temp: Path,
    settings: ServerSettings,
    base_env: dict[str, str],
    *,
    floor: bool = False,
) -> Stack:
    """Start Redis, the sandboxes, migrate, then the gunicorns; return once all answer."""
    redis_port = free_port()
    processes.start("redis", redis_command(redis_port, temp))
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    wait_redis(redis_url)
    gelato_key, store_token = secrets.token_hex(16), secrets.token_hex(16)
    gelato = Sandbox(
        processes.start_sandbox("gelato-sandbox", ["gelato", "--api-key", gelato_key]), gelato_key
    )
    store = Sandbox(
        processes.start_sandbox("store-sandbox", ["store", "--shop", SHOP, "--token", store_token]),
        store_token,
    )
    env, secret = printbridge_env(base_env, temp, redis_url, gelato, store)
    migrate = subprocess.run(
        [sys.executable, "-m", "bridge", "migrate"], cwd=ROOT, env=env, capture_output=True
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"migrate failed: {migrate.stderr.decode(errors='replace')}")

    apps = {BARE: ("bench.bare_app:app", base_env), PRINTBRIDGE: ("wsgi:app", env)}
    if floor:
        apps[FLOOR] = ("bench.floor_app:app", env)
    ports = {name: free_port() for name in apps}
    for name, (app, app_env) in apps.items():
        command = [sys.executable, "-m", "gunicorn", *settings.arguments(ports[name]), app]
        processes.start(name, command, env=app_env)
    processes.wait_http(BARE, f"http://127.0.0.1:{ports[BARE]}/", need_ok=False)
    processes.wait_http(PRINTBRIDGE, f"http://127.0.0.1:{ports[PRINTBRIDGE]}/readyz", need_ok=True)
    if floor:
        processes.wait_http(FLOOR, f"http://127.0.0.1:{ports[FLOOR]}/healthz", need_ok=True)
    return Stack(ports, secret, gelato.url, store.url, redis_url, env)


def start_worker(processes: Processes, stack: Stack) -> None:
    """Start printbridge's RQ worker (phase C only: A and B measure the web path alone)."""
    processes.start("worker", [sys.executable, "-m", "bridge", "worker"], env=stack.env)
