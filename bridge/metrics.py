"""What printbridge measures, and its Prometheus rendering for `GET /metrics`.

Where each figure comes from, and why:

- **Deliveries by topic and result, jobs, job latency, API calls and their latency** are
  counted by the process that sees them, in memory, and added to Redis from there
  (bridge/adapters/metrics.py), so a scrape of any web process shows the sum over every web
  and worker process. Deliveries are not counted from the `deliveries` table: it is the
  largest table (every `orders/updated` lands there, with its body), a GROUP BY over it would
  scan all of it at each scrape, and the answers that record nothing (401, 413, the gate's
  503) are not in it at all. Counting in memory costs a webhook no Redis round trip.
- **Actions by outcome** are counted from the `actions` table at scrape time: an action's
  outcome is set in four places (the worker's attempt and its last failure, and on the
  webhook path a superseded address edit and an uninstall), all of them in SQL, which is the
  record. The count reads only the index on (outcome, created_at). They are gauges, not
  counters: erasing a shop's records (`shop/redact`) lowers them.
- **Queue depth** is read from RQ at scrape time.

If Redis cannot be read, the scrape still answers, with `printbridge_redis_up 0` and what it
could read (the SQL counts); likewise `printbridge_database_up 0` without the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import redis
import sqlalchemy as sa
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from rq import Worker

from bridge.adapters.metrics import Metrics, Snapshot, cumulative_buckets
from bridge.adapters.queue import JobQueue
from bridge.adapters.storage import ApiCall
from bridge.adapters.synclog import SyncLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Counter:
    """A counter counted by the processes: its name (without `_total`), help and labels."""

    name: str
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Histogram:
    """A histogram observed by the processes, with its bucket bounds in seconds."""

    name: str
    help: str
    labels: tuple[str, ...]
    bounds: tuple[float, ...]


DELIVERIES = Counter(
    "printbridge_webhook_deliveries",
    "Webhook deliveries answered, by topic (known topics, else 'other') and result: what was "
    "recorded (accepted, duplicate, ignored, ...) or why nothing was (unauthorized, shed, ...).",
    ("topic", "result"),
)
JOBS = Counter(
    "printbridge_jobs",
    "Jobs run by the workers, by job and result (ok, retry, failed).",
    ("job", "result"),
)
JOB_DURATION = Histogram(
    "printbridge_job_duration_seconds",
    "How long one run of a job took in the worker.",
    ("job",),
    (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0),
)
JOB_WAIT = Histogram(
    "printbridge_job_wait_seconds",
    "How long a job waited in the queue, from its enqueue (or its retry's) to its start.",
    ("job",),
    (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)
API_CALLS = Counter(
    "printbridge_api_calls",
    "Calls to Gelato (service=gelato) and the store's Admin API (service=store), by method "
    "and result: the HTTP status, or timeout or connection_error when no answer came.",
    ("service", "method", "result"),
)
API_CALL_DURATION = Histogram(
    "printbridge_api_call_duration_seconds",
    "How long a call to Gelato or the store took, answered or not.",
    ("service", "method"),
    (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
COUNTERS = (DELIVERIES, JOBS, API_CALLS)
HISTOGRAMS = (JOB_DURATION, JOB_WAIT, API_CALL_DURATION)
# The queue's states as RQ keeps them.
QUEUE_STATES = ("queued", "scheduled", "started", "deferred", "failed")


def count_delivery(metrics: Metrics, topic: str, result: str) -> None:
    """Count one answered delivery (`topic` must come from a fixed set: see topic_label)."""
    metrics.count(DELIVERIES.name, {"topic": topic, "result": result})


def count_job(metrics: Metrics, job: str, result: str, seconds: float, waited: float) -> None:
    """Count one run of a job, how long it ran and how long it waited."""
    metrics.count(JOBS.name, {"job": job, "result": result})
    metrics.observe(JOB_DURATION.name, {"job": job}, seconds, JOB_DURATION.bounds)
    if waited >= 0:
        metrics.observe(JOB_WAIT.name, {"job": job}, waited, JOB_WAIT.bounds)


def count_api_call(metrics: Metrics, call: ApiCall) -> None:
    """Count one call to Gelato or the store, by its answer, and its duration."""
    if call.status is not None:
        result = str(call.status)
    else:
        result = "timeout" if call.error == "timeout" else "connection_error"
    labels = {"service": call.service, "method": call.method.upper()}
    metrics.count(API_CALLS.name, {**labels, "result": result})
    metrics.observe(
        API_CALL_DURATION.name, labels, call.duration_ms / 1000, API_CALL_DURATION.bounds
    )


class BridgeCollector(Collector):
    """Renders the figures at scrape time: Redis's sums, the SQL counts, RQ's queue."""

    def __init__(self, metrics: Metrics, queue: JobQueue, synclog: SyncLog) -> None:
        self.metrics = metrics
        self.queue = queue
        self.synclog = synclog

    def collect(self) -> Iterator[Metric]:
        """Every metric family, each read from where it is kept."""
        redis_up = GaugeMetricFamily(
            "printbridge_redis_up", "1 if this scrape could read Redis, else 0."
        )
        try:
            # This process's own tally first, so that what it just counted is included.
            self.metrics.flush()
            snapshot = self.metrics.snapshot()
            queue = list(self._queue())
        except redis.RedisError as error:
            log.warning("metrics: Redis unreadable (%s): counters left out", type(error).__name__)
            redis_up.add_metric([], 0)
        else:
            redis_up.add_metric([], 1)
            yield from _counters(snapshot)
            yield from _histograms(snapshot)
            yield from queue
        yield redis_up
        yield from self._actions()

    def _queue(self) -> Iterator[Metric]:
        rq_queue = self.queue.queue
        depth = GaugeMetricFamily(
            "printbridge_queue_jobs", "Jobs in the RQ queue by state.", labels=["state"]
        )
        registries = {
            "scheduled": rq_queue.scheduled_job_registry,
            "started": rq_queue.started_job_registry,
            "deferred": rq_queue.deferred_job_registry,
            "failed": rq_queue.failed_job_registry,
        }
        depth.add_metric(["queued"], rq_queue.count)
        for state, registry in registries.items():
            # No cleanup: a scrape only reads, it never moves jobs between registries.
            depth.add_metric([state], registry.get_job_count(cleanup=False))
        yield depth
        workers = GaugeMetricFamily("printbridge_workers", "RQ workers registered on the queue.")
        workers.add_metric([], Worker.count(queue=rq_queue))
        yield workers

    def _actions(self) -> Iterator[Metric]:
        database_up = GaugeMetricFamily(
            "printbridge_database_up", "1 if this scrape could read the sync log, else 0."
        )
        try:
            ended, open_ = self.synclog.action_counts()
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: sync log unreadable (%s)", type(error).__name__)
            database_up.add_metric([], 0)
            yield database_up
            return
        database_up.add_metric([], 1)
        yield database_up
        yield _gauge(
            "printbridge_actions_ended",
            "Actions in the sync log that have ended, by outcome.",
            "outcome",
            ended,
        )
        yield _gauge(
            "printbridge_actions_open",
            "Actions in the sync log not ended yet, by state (pending, running, retrying).",
            "state",
            open_,
        )


def _gauge(name: str, help_text: str, label: str, values: Mapping[str, int]) -> Metric:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for value, count in sorted(values.items()):
        family.add_metric([value], count)
    return family


def _counters(snapshot: Snapshot) -> Iterator[Metric]:
    for counter in COUNTERS:
        family = CounterMetricFamily(counter.name, counter.help, labels=list(counter.labels))
        for (name, labels), value in sorted(snapshot.counters.items()):
            if name == counter.name:
                values = dict(labels)
                family.add_metric([values.get(label, "") for label in counter.labels], value)
        yield family


def _histograms(snapshot: Snapshot) -> Iterator[Metric]:
    for histogram in HISTOGRAMS:
        family = HistogramMetricFamily(
            histogram.name, histogram.help, labels=list(histogram.labels)
        )
        for (name, labels), totals in sorted(snapshot.histograms.items()):
            if name == histogram.name:
                values = dict(labels)
                family.add_metric(
                    [values.get(label, "") for label in histogram.labels],
                    cumulative_buckets(totals, histogram.bounds),
                    totals.total,
                )
        yield family
