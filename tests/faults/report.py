"""Write the figures of the last fault runs into docs/reliability.md.

    python -m tests.faults.report            # rewrite the figures section from test-artifacts
    python -m tests.faults.report --check    # print it; exit 1 if a run is missing or broke a
                                             # guarantee

Each fault run writes test-artifacts/faults/<name>.json (write_figures). This reads them and
replaces the part of docs/reliability.md between the figures markers with one table of the
headline figures (deliveries sent, lost, duplicated side effects, slowest answer) and, per run,
every figure it recorded. Nothing here measures anything: it only copies what the runs wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.faults.lease_stack import ARTIFACTS, REPO

DOC = REPO / "docs" / "reliability.md"
BEGIN = "<!-- figures:begin (written by python -m tests.faults.report) -->"
END = "<!-- figures:end -->"

Figures = dict[str, Any]


def _sum(*keys: str) -> Callable[[Figures], int]:
    def total(figures: Figures) -> int:
        return sum(int(figures.get(key) or 0) for key in keys)

    return total


def _first(*keys: str) -> Callable[[Figures], Any]:
    def pick(figures: Figures) -> Any:
        for key in keys:
            if key in figures:
                return figures[key]
        return None

    return pick


@dataclass(frozen=True)
class Run:
    """One fault run: its artifact name, the guarantee it proves, where its headline figures are."""

    name: str
    guarantee: str
    test: str
    sent: Callable[[Figures], Any]
    lost: Callable[[Figures], Any]
    duplicated: Callable[[Figures], Any]


RUNS = (
    Run(
        "redis_killed", "1. No delivery is lost (Redis killed)", "test_redis_killed.py",
        _first("deliveries_sent"), _first("lost"),
        _sum("gelato_orders_cancelled_twice", "orders_with_more_than_one_action"),
    ),
    Run(
        "database_unavailable", "1. No delivery is lost (database unavailable)",
        "test_database_unavailable.py",
        _first("deliveries_sent"), _first("lost"), _sum("gelato_orders_cancelled_twice"),
    ),
    Run(
        "duplicates", "2. Nothing is done twice", "test_duplicates.py",
        _first("deliveries_sent"), _first("orders_lost"),
        _sum("double_cancels", "double_drafts", "double_reports"),
    ),
    Run(
        "worker_death", "3. Workers can die", "test_worker_death.py",
        _first("deliveries_sent", "actions"), _first("actions_lost"),
        _sum("gelato_orders_cancelled_twice", "originals_with_two_drafts"),
    ),
    Run(
        "gelato_faults", "4. Gelato misbehaves", "test_gelato_faults.py",
        _first("deliveries_sent"), _first("actions_lost"), _first("duplicated_side_effects"),
    ),
    Run(
        "overload", "5. The store's deadline is kept", "test_overload.py",
        _first("deliveries_sent", "sent"), _first("lost"),
        _sum("gelato_orders_cancelled_twice", "double_cancels"),
    ),
)  # fmt: skip


def _load(run: Run) -> tuple[Figures, datetime] | None:
    path = ARTIFACTS / f"{run.name}.json"
    if not path.exists():
        return None
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    figures: Figures = json.loads(path.read_text())
    return figures, written


def _cell(value: Any) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_cell(inner)}" for key, inner in value.items()) or "none"
    return str(value)


def render() -> tuple[str, list[str]]:
    """The figures section, and the problems found in it (missing runs, broken guarantees)."""
    problems: list[str] = []
    lines = [
        "| guarantee | run (tests/faults/) | deliveries sent | lost | duplicated side effects"
        " | slowest answer (s) | run at (UTC) |",
        "|---|---|---|---|---|---|---|",
    ]
    details: list[str] = []
    for run in RUNS:
        loaded = _load(run)
        if loaded is None:
            problems.append(f"{run.name}: no figures (run `pytest -m faults tests/faults`)")
            lines.append(f"| {run.guarantee} | `{run.test}` | no run recorded | | | | |")
            continue
        figures, written = loaded
        lost, duplicated = run.lost(figures), run.duplicated(figures)
        slowest = figures.get("max_answer_seconds")
        if lost:
            problems.append(f"{run.name}: {lost} lost")
        if duplicated:
            problems.append(f"{run.name}: {duplicated} duplicated side effects")
        if slowest is not None and slowest >= 5:
            problems.append(f"{run.name}: slowest answer {slowest} s, past the store's 5 s")
        lines.append(
            f"| {run.guarantee} | `{run.test}` | {_cell(run.sent(figures))} | {_cell(lost)}"
            f" | {_cell(duplicated)} | {_cell(slowest)} | {written:%Y-%m-%d %H:%M} |"
        )
        details += ["", f"**{run.name}** (`tests/faults/{run.test}`):", ""]
        details += [f"- {key}: {_cell(value)}" for key, value in sorted(figures.items())]
    return "\n".join([BEGIN, "", *lines, *details, "", END]), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check; exit 1 on a missing run or a breach"
    )
    args = parser.parse_args(argv)
    section, problems = render()
    if args.check:
        print(section)
    else:
        text = DOC.read_text()
        start, end = text.index(BEGIN), text.index(END) + len(END)
        DOC.write_text(text[:start] + section + text[end:])
        print(f"wrote the figures section of {DOC.relative_to(REPO)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
