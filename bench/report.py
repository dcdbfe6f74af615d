"""Figures of a run: percentiles, the printed table, the targets, and machine facts."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

NOISE_CORES = 0.25  # other processes' CPU above which a load's figures are flagged


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies given in seconds, in milliseconds."""
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p95_ms": round(percentile(values, 95) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2) if values else math.nan,
    }


@dataclass
class Report:
    """Every figure of one run, printed as a table and written as JSON."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, phase: str, target: str, **figures: Any) -> None:
        self.rows.append({"phase": phase, "target": target, **figures})

    def check(self, name: str, value: float, limit: float, *, at_least: bool) -> None:
        met = value >= limit if at_least else value < limit
        self.targets.append(
            {"target": name, "value": round(value, 3), "limit": limit, "met": bool(met)}
        )

    @property
    def all_met(self) -> bool:
        return all(target["met"] for target in self.targets)

    def as_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "results": self.rows,
            "targets": self.targets,
            "notes": self.notes,
        }

    def table(self) -> str:
        lines = [self._header(), ""]
        head = f"{'phase':<24} {'app':<22}"
        lines.append(head + "".join(f" {title:>{width}}" for _, title, _, width in COLUMNS))
        for row in self.rows:
            cells = "".join(
                f" {_num(row.get(key), digits):>{width}}" for key, _, digits, width in COLUMNS
            )
            lines.append(f"{row['phase']:<24} {row['target']:<22}{cells}")
        lines.append("")
        lines.extend(self.notes)
        lines.append(LEGEND)
        if any(row.get("pool_exhausted") for row in self.rows):
            lines.append("WARNING: a load ran out of pre-built deliveries and ended early.")
        disturbed = [row for row in self.rows if (row.get("other_cpu_cores") or 0) > NOISE_CORES]
        if disturbed:
            worst = max(row["other_cpu_cores"] for row in disturbed)
            lines.append(
                f"WARNING: other processes used up to {worst:.2f} cores during "
                f"{len(disturbed)} of the loads above: the machine was shared, figures disturbed."
            )
        lines.append("")
        for target in self.targets:
            verdict = "met" if target["met"] else "MISSED"
            relation = ">=" if target["target"].startswith("ratio") else "<"
            lines.append(
                f"{verdict:>6}  {target['target']}: {target['value']} "
                f"(target {relation} {target['limit']})"
            )
        return "\n".join(lines)

    def _header(self) -> str:
        gunicorn = self.settings["gunicorn"]
        load = self.settings["load"]
        gate = (
            f"printbridge's gate {gunicorn['max_inflight_webhooks']} running + "
            f"{gunicorn['max_queued_webhooks']} queued per worker"
            if "max_inflight_webhooks" in gunicorn
            else ""
        )
        return (
            f"machine: {self.machine['nproc']} cores ({self.machine['cpu_model']}), "
            f"Python {self.machine['python']}, gunicorn {self.machine['packages']['gunicorn']}, "
            f"commit {(self.machine['git_commit'] or '?')[:7]}"
            f"{' + local changes' if self.machine['git_dirty'] else ''}\n"
            f"every app: gunicorn {gunicorn['worker_class']}, {gunicorn['workers']} workers"
            f" x {gunicorn.get('threads', 1)} threads, 127.0.0.1, no access log; {gate}\n"
            f"phase A: {load['connections']} connections, closed loop, "
            f"{load['rounds']} rounds x {load['duration']:g} s per app (alternated); "
            f"phase B: {load['duration']:g} s open loop"
        )


LEGEND = (
    "cpu ms/req, app cores: CPU of the app's gunicorn master and workers; busiest: the busiest\n"
    "one of them (one Python process uses at most about one core); loadgen cores: this "
    "process;\nother cores: busy CPU of processes this run did not start (a shared machine)."
)
# (key, title, decimals, width)
COLUMNS = (
    ("rps", "req/s", 1, 7),
    ("ok", "ok", 0, 6),
    ("errors", "err", 0, 4),
    ("p50_ms", "p50 ms", 2, 7),
    ("p95_ms", "p95 ms", 2, 7),
    ("p99_ms", "p99 ms", 2, 7),
    ("server_cpu_ms_per_req", "cpu ms/req", 2, 10),
    ("server_cpu_cores", "app cores", 2, 9),
    ("busiest_process_cores", "busiest", 2, 7),
    ("client_cpu_cores", "loadgen cores", 2, 13),
    ("other_cpu_cores", "other cores", 2, 11),
)


def _num(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def machine_facts() -> dict[str, Any]:
    """What the figures depend on: cores, CPU, Python, library versions, load."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), ""
            )
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in ("flask", "werkzeug", "gunicorn", "sqlalchemy", "redis", "rq"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "packages": versions,
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        **_git(),
    }


def _git() -> dict[str, Any]:
    """The commit measured, and whether printbridge's files differed from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        except OSError:  # no git on this machine
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", ".", ":!bench")
    return {"git_commit": git("rev-parse", "HEAD") or None, "git_dirty": bool(changed)}
