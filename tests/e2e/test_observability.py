"""Real processes: /metrics adds up every web and worker process; logs are JSON, without secrets."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ACCESS_TOKEN, GELATO_KEY, SECRET, SHOP
from tests.e2e.conftest import Deployment
from tests.e2e.test_processes import final_action, seed, send_cancel

pytestmark = pytest.mark.e2e
METRICS_TOKEN = "metrics-token-e2e-0123456789"
ORDERS = range(701, 709)


@pytest.fixture
def web_env() -> dict[str, str]:
    return {"BRIDGE_LOG_FORMAT": "json", "BRIDGE_METRICS_TOKEN": METRICS_TOKEN}


def scrape(deployment: Deployment) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(
        deployment.url + "/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def scrape_until(deployment: Deployment, wanted: dict[tuple[str, frozenset[Any]], float]) -> None:
    # Each process adds its tally every 2 s: wait for the sums rather than assume a timing.
    deadline = time.monotonic() + 30
    while True:
        samples = scrape(deployment)
        missing = {
            key: samples.get(key) for key, value in wanted.items() if samples.get(key) != value
        }
        if not missing:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"metrics never reached what was sent: {missing}")
        time.sleep(0.5)


def log_lines(deployment: Deployment, name: str) -> list[dict[str, Any]]:
    lines = (deployment.logs / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_metrics_add_up_every_process_and_logs_are_json_without_secrets(
    deployment: Deployment,
) -> None:
    for order_id in ORDERS:
        seed(deployment, order_id, "passed")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda order_id: send_cancel(deployment, order_id), ORDERS))
    assert answers == [200] * len(ORDERS)
    for order_id in ORDERS:
        assert final_action(deployment, order_id)["outcome"] == "cancelled"
    # Answered 503 here (installing is not configured), and logged by the access log.
    requests.get(
        deployment.url + "/auth/callback",
        params={"code": "one-time-code-42", "hmac": "cafe0123beef", "shop": SHOP},
        timeout=10,
        allow_redirects=False,
    )
    assert requests.get(deployment.url + "/metrics", timeout=10).status_code == 401

    n = float(len(ORDERS))
    scrape_until(
        deployment,
        {
            # Answered by two gunicorn processes, read from whichever answers the scrape.
            (
                "printbridge_webhook_deliveries_total",
                frozenset({("topic", "orders/cancelled"), ("result", "accepted")}),
            ): n,
            # Counted by the worker process.
            ("printbridge_jobs_total", frozenset({("job", "run_action"), ("result", "ok")})): n,
            (
                "printbridge_api_calls_total",
                frozenset({("service", "gelato"), ("method", "POST"), ("result", "200")}),
            ): 2 * n,  # a search and a cancel per order
            ("printbridge_actions_ended", frozenset({("outcome", "cancelled")})): n,
            ("printbridge_workers", frozenset()): 1.0,
            ("printbridge_redis_up", frozenset()): 1.0,
        },
    )

    web, worker = log_lines(deployment, "web.log"), log_lines(deployment, "worker.log")
    everything = json.dumps(web + worker)
    for secret in (SECRET, ACCESS_TOKEN, GELATO_KEY, METRICS_TOKEN, "one-time-code-42"):
        assert secret not in everything
    assert "cafe0123beef" not in everything
    assert "Chestnut Street" not in everything
    access = [line["message"] for line in web if line["logger"] == "gunicorn.access"]
    assert any("GET /auth/callback HTTP/1.1" in message for message in access)
    assert all("?" not in message for message in access)
    job_lines = [line for line in worker if line.get("job_id")]
    action_ids = {line["action_id"] for line in job_lines if "action_id" in line}
    assert len(action_ids) == len(ORDERS)
    assert {line["level"] for line in worker} <= {"DEBUG", "INFO", "WARNING", "ERROR"}
