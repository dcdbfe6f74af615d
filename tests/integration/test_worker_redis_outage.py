"""`printbridge worker` against a Redis that is killed and started again: the worker waits for it
and carries on, instead of exiting with its Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue

from bridge.adapters.outages import RedisOutage
from bridge.adapters.queue import QUEUE_NAME
from tests.faults.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
MARK = f"{__name__}.mark"


def mark(folder: str, name: str) -> None:
    """A short job that leaves a file behind, so the test sees that it ran."""
    time.sleep(0.02)
    (Path(folder) / name).touch()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    made = RedisServer(tmp_path / "redis")
    yield made
    made.stop()


@pytest.fixture
def start_worker(
    tmp_path: Path, server: RedisServer
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `printbridge worker` (as the Procfile does) on `server`; stopped at the end."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "BRIDGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sync-log.sqlite3'}",
        "REDIS_URL": server.url,
        "SHOPIFY_API_SECRET": "outage-test-secret",
        "BRIDGE_WORKER_LEASE_SECONDS": "2",
        "BRIDGE_SWEEP_INTERVAL_SECONDS": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "bridge", "migrate"], env=env, cwd=ROOT, check=True,
        capture_output=True,
    )  # fmt: skip
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / "worker.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "worker"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def enqueue(server: RedisServer, folder: Path, names: list[str]) -> None:
    connection = redis.Redis.from_url(server.url)
    queue = Queue(QUEUE_NAME, connection=connection)
    for name in names:
        queue.enqueue_call(MARK, args=(str(folder), name), result_ttl=0)
    connection.close()


def wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds}s:\n{log.read_text()}"
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> int:
    """Stop the worker as a process manager does (SIGTERM to its group); its exit code."""
    os.killpg(process.pid, signal.SIGTERM)
    return process.wait(timeout=30)


def test_worker_outlives_redis_killed_while_it_runs_jobs_and_runs_what_is_queued_after(
    tmp_path: Path, server: RedisServer, start_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    done, log = tmp_path / "done", tmp_path / "worker.log"
    done.mkdir()
    server.start()
    worker = start_worker()
    enqueue(server, done, [f"before-{n}" for n in range(300)])
    wait_for(lambda: len(list(done.iterdir())) >= 20, 60, "jobs did not start", log)

    server.kill()
    time.sleep(2)
    alive_while_down = worker.poll() is None
    server.start()
    after = [f"after-{n}" for n in range(20)]
    enqueue(server, done, after)
    wait_for(
        lambda: all((done / name).exists() for name in after),
        60,
        "jobs queued after Redis came back did not run",
        log,
    )
    alive_after = worker.poll() is None
    code = stop(worker)

    output = log.read_text()
    assert alive_while_down, output
    assert alive_after, output
    assert "quitting" not in output
    assert output.count("Redis unreachable while") == 1, output
    assert output.count("Redis answers again") == 1, output
    assert "Traceback" not in output
    assert code == 0, output


def test_worker_started_while_redis_is_down_waits_for_it(
    tmp_path: Path, server: RedisServer, start_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    done, log = tmp_path / "done", tmp_path / "worker.log"
    done.mkdir()
    worker = start_worker()
    wait_for(
        lambda: "Redis unreachable while starting" in log.read_text(),
        60,
        "the worker did not say it waits for Redis",
        log,
    )
    time.sleep(1)
    alive_while_down = worker.poll() is None

    server.start()
    enqueue(server, done, ["first"])
    wait_for(lambda: (done / "first").exists(), 60, "the job did not run", log)
    code = stop(worker)

    output = log.read_text()
    assert alive_while_down, output
    assert output.count("Redis answers again") == 1, output
    assert code == 0, output


class FlakyRedis:
    """Answers PING after failing it a number of times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def ping(self) -> bool:
        if self.failures:
            self.failures -= 1
            raise redis.ConnectionError("Connection refused")
        return True


def test_outage_waits_with_a_growing_pause_and_says_so_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pauses: list[float] = []
    outage = RedisOutage(FlakyRedis(5), sleep=pauses.append)  # type: ignore[arg-type]

    with caplog.at_level("WARNING", logger="bridge.adapters.outages"):
        back = outage.wait(redis.ConnectionError("refused"), "running job x")

    assert back
    assert pauses == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert [record.getMessage().split(" (")[0] for record in caplog.records] == [
        "Redis unreachable while running job x",
        "Redis answers again after 0.0s; resuming",
    ]


def test_outage_wait_ends_when_the_worker_is_asked_to_stop() -> None:
    asked = iter([False, False, True])
    outage = RedisOutage(
        FlakyRedis(100),  # type: ignore[arg-type]
        sleep=lambda _: None,
        stopping=lambda: next(asked),
    )

    assert outage.wait(redis.TimeoutError("timed out"), "sending its heartbeat") is False
