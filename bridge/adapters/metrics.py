"""Counters and histograms shared by every process, kept in Redis, counted in memory first.

A web process runs as several gunicorn processes and the workers as more: a metric is the
sum over all of them, so each process adds what it counted to two Redis hashes, and a scrape
reads the hashes. Counting itself never talks to Redis: it adds to this process's tally, and
`flush()` sends the tally in one MULTI/EXEC, from a thread every `flush_seconds`, after each
job in a worker, and before a scrape. A webhook therefore pays no Redis round trip for being
counted, and a flush that fails keeps its tally for the next one.

Histograms are hash fields too: one per bucket (counted non-cumulatively, summed at scrape
time), one for the sum and one for the count of observations.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import redis

log = logging.getLogger(__name__)

PREFIX = "printbridge:metrics:"
COUNTERS_KEY = PREFIX + "counters"
HISTOGRAMS_KEY = PREFIX + "histograms"
INF = "+Inf"

Labels = tuple[tuple[str, str], ...]
Series = tuple[str, Labels]


def labels_of(values: Mapping[str, str]) -> Labels:
    """Label names and values in a fixed order, usable as a key."""
    return tuple(sorted(values.items()))


@dataclass
class _Histogram:
    bounds: tuple[float, ...]
    buckets: list[int]
    total: float = 0.0
    count: int = 0


@dataclass(frozen=True)
class HistogramTotals:
    """One histogram series as kept in Redis: per-bucket counts, the sum, the count."""

    buckets: dict[str, int] = field(default_factory=dict)
    total: float = 0.0
    count: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Every series every process has flushed so far."""

    counters: dict[Series, int]
    histograms: dict[Series, HistogramTotals]


class Metrics:
    """This process's tally of counters and histograms, and what all processes added up."""

    def __init__(self, connection: redis.Redis, *, flush_seconds: float = 0.0) -> None:
        self.connection = connection
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._counters: dict[Series, int] = {}
        self._histograms: dict[Series, _Histogram] = {}
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0
        self._closed = threading.Event()
        _LIVE.add(self)

    def count(self, name: str, labels: Mapping[str, str], amount: int = 1) -> None:
        """Add `amount` to a counter series."""
        key = (name, labels_of(labels))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + amount
        self._ensure_flusher()

    def observe(
        self, name: str, labels: Mapping[str, str], value: float, bounds: tuple[float, ...]
    ) -> None:
        """Add one observation to a histogram series with these (sorted) bucket bounds."""
        key = (name, labels_of(labels))
        with self._lock:
            series = self._histograms.get(key)
            if series is None:
                series = self._histograms[key] = _Histogram(bounds, [0] * (len(bounds) + 1))
            series.buckets[bisect.bisect_left(series.bounds, value)] += 1
            series.total += value
            series.count += 1
        self._ensure_flusher()

    def flush(self) -> bool:
        """Add this process's tally to Redis in one transaction; False (tally kept) on failure."""
        with self._lock:
            counters, histograms = self._counters, self._histograms
            self._counters, self._histograms = {}, {}
        if not counters and not histograms:
            return True
        try:
            with self.connection.pipeline(transaction=True) as pipeline:
                for (name, labels), amount in counters.items():
                    pipeline.hincrby(COUNTERS_KEY, _field(name, labels), amount)
                for (name, labels), series in histograms.items():
                    edges: tuple[float | str, ...] = (*series.bounds, INF)
                    for bound, count in zip(edges, series.buckets, strict=True):
                        if count:
                            pipeline.hincrby(HISTOGRAMS_KEY, _field(name, labels, bound), count)
                    pipeline.hincrbyfloat(HISTOGRAMS_KEY, _field(name, labels, "sum"), series.total)
                    pipeline.hincrby(HISTOGRAMS_KEY, _field(name, labels, "count"), series.count)
                pipeline.execute()
        except redis.RedisError as error:
            self._merge_back(counters, histograms)
            log.warning("metrics not flushed this time: Redis %s", type(error).__name__)
            return False
        return True

    def snapshot(self) -> Snapshot:
        """What every process has flushed; raises RedisError when Redis cannot be read."""
        with self.connection.pipeline(transaction=False) as pipeline:
            pipeline.hgetall(COUNTERS_KEY)
            pipeline.hgetall(HISTOGRAMS_KEY)
            raw_counters, raw_histograms = pipeline.execute()
        counters = {_series(key): int(value) for key, value in raw_counters.items()}
        parts: dict[Series, dict[str, float]] = {}
        for key, value in raw_histograms.items():
            name, labels, part = json.loads(key)
            parts.setdefault((name, labels_of(labels)), {})[part] = float(value)
        histograms = {
            series: HistogramTotals(
                buckets={k: int(v) for k, v in values.items() if k not in ("sum", "count")},
                total=values.get("sum", 0.0),
                count=int(values.get("count", 0)),
            )
            for series, values in parts.items()
        }
        return Snapshot(counters, histograms)

    def close(self) -> None:
        """Flush what is left and stop the flushing thread."""
        self._closed.set()
        self.flush()

    def _merge_back(
        self, counters: dict[Series, int], histograms: dict[Series, _Histogram]
    ) -> None:
        with self._lock:
            for key, amount in counters.items():
                self._counters[key] = self._counters.get(key, 0) + amount
            for key, old in histograms.items():
                new = self._histograms.setdefault(
                    key, _Histogram(old.bounds, [0] * len(old.buckets))
                )
                new.buckets = [a + b for a, b in zip(new.buckets, old.buckets, strict=True)]
                new.total += old.total
                new.count += old.count

    def _ensure_flusher(self) -> None:
        if self.flush_seconds <= 0 or self._flusher_pid == os.getpid():
            return
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            # Started on first use, in the process that counts (a forked child starts its own).
            self._flusher_pid = os.getpid()
            self._flusher = threading.Thread(
                target=_flush_every, args=(weakref.ref(self),), name="metrics flush", daemon=True
            )
            self._flusher.start()

    def _forget(self) -> None:
        """Drop the tally: in a forked child it is the parent's, which the parent will flush."""
        self._lock = threading.Lock()
        self._counters, self._histograms = {}, {}
        self._flusher, self._flusher_pid = None, 0


def _flush_every(reference: weakref.ref[Metrics]) -> None:
    while True:
        metrics = reference()
        if metrics is None:
            return
        closed, every = metrics._closed, metrics.flush_seconds
        del metrics  # hold no reference while asleep: an app thrown away can be collected
        if closed.wait(every):
            return
        metrics = reference()
        if metrics is None:
            return
        metrics.flush()
        del metrics


_LIVE: weakref.WeakSet[Metrics] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for metrics in list(_LIVE):
        metrics._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _field(name: str, labels: Labels, part: float | str | None = None) -> str:
    """A hash field: the series (and a histogram's part) as compact JSON."""
    values: list[object] = [name, dict(labels)]
    if part is not None:
        values.append(part if isinstance(part, str) else repr(float(part)))
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def _series(key: bytes | str) -> Series:
    name, labels = json.loads(key)
    return name, labels_of(labels)


def cumulative_buckets(totals: HistogramTotals, bounds: Iterable[float]) -> list[tuple[str, int]]:
    """Cumulative (le, count) pairs for a histogram series, from its per-bucket counts."""
    running, pairs = 0, []
    for bound in (*(repr(float(b)) for b in bounds), INF):
        running += totals.buckets.get(bound, 0)
        pairs.append((bound, running))
    return pairs
