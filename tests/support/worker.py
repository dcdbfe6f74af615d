"""Running queued jobs with a real RQ worker, in burst mode, until nothing is left."""

from __future__ import annotations

import time

from flask import Flask

from bridge.app import services_of
from bridge.worker import make_worker


def drain(app: Flask, timeout: float = 30.0) -> None:
    """Run the worker until no job is queued or scheduled; fail after `timeout` seconds."""
    services = services_of(app)
    queue = services.queue.queue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        make_worker(app).work(burst=True, with_scheduler=True, logging_level="WARNING")
        if queue.count == 0 and queue.scheduled_job_registry.count == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"jobs still queued after {timeout}s")


def run_once(app: Flask) -> None:
    """Run the jobs queued now, once; scheduled retries stay scheduled."""
    make_worker(app).work(burst=True, logging_level="WARNING")
