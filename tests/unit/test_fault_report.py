"""The fault-run report copies the runs' figures and flags a missing run or a broken guarantee."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults import report


def test_report_copies_figures_and_flags_losses_and_slow_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "ARTIFACTS", tmp_path)
    figures = {"deliveries_sent": 1000, "lost": 2, "max_answer_seconds": 5.5}
    (tmp_path / "redis_killed.json").write_text(json.dumps(figures))

    section, problems = report.render()

    assert "| `test_redis_killed.py` | 1000 | 2 | 0 | 5.5 |" in section
    assert "redis_killed: 2 lost" in problems
    assert any("past the store's 5 s" in problem for problem in problems)
    assert any(problem.startswith("duplicates: no figures") for problem in problems)


def test_report_rewrites_only_the_figures_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text(f"before\n{report.BEGIN}\nold\n{report.END}\nafter\n")
    monkeypatch.setattr(report, "DOC", doc)
    monkeypatch.setattr(report, "REPO", tmp_path)
    monkeypatch.setattr(report, "ARTIFACTS", tmp_path / "none")

    assert report.main([]) == 1

    text = doc.read_text()
    assert text.startswith("before\n")
    assert text.endswith("after\n")
    assert "old" not in text
    assert "no run recorded" in text
