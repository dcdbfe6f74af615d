"""Writing turns on a real SQLite file: threads and processes take them one at a time."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge.adapters.database import make_engine, unreachable
from bridge.adapters.write_turns import LOCK_FILE_SUFFIX, WriteTurns

HOLD_SECONDS = 0.3


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "sync.db"


def _turns(database: Path, timeout: float = 5.0) -> WriteTurns:
    engine = make_engine(f"sqlite:///{database}")
    turns = WriteTurns.for_engine(engine, timeout)
    engine.dispose()
    assert turns is not None
    return turns


def _hold_turn(lock_path: str, held: multiprocessing.synchronize.Event, seconds: float) -> None:
    with WriteTurns(lock_path, 5.0).turn():
        held.set()
        time.sleep(seconds)


def test_the_lock_file_lies_beside_the_database_and_only_its_owner_reads_it(
    database: Path,
) -> None:
    turns = _turns(database)
    with turns.turn():
        pass

    lock_file = Path(str(database) + LOCK_FILE_SUFFIX)
    assert turns.lock_path == str(lock_file)
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


def test_a_process_waits_for_another_processs_turn_and_gets_it_when_it_ends(
    database: Path,
) -> None:
    turns = _turns(database)
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    holder = context.Process(target=_hold_turn, args=(turns.lock_path, held, HOLD_SECONDS))
    holder.start()
    try:
        assert held.wait(30), "the other process never took its turn"
        began = time.monotonic()
        with turns.turn():
            waited = time.monotonic() - began
    finally:
        holder.join(30)

    assert holder.exitcode == 0
    assert waited >= HOLD_SECONDS / 2


def test_a_forked_child_does_not_share_its_parents_turn(database: Path) -> None:
    turns = _turns(database)
    with turns.turn():  # the parent has opened its lock file before the fork
        pass
    context = multiprocessing.get_context("fork")
    child_in = context.Event()

    def child() -> None:
        with turns.turn():
            child_in.set()

    with turns.turn():
        process = context.Process(target=child)
        process.start()
        # The child's own turn waits for the parent's, though it inherited the parent's file.
        assert not child_in.wait(HOLD_SECONDS)
    assert child_in.wait(30)
    process.join(30)
    assert process.exitcode == 0


def test_threads_of_one_process_take_turns(database: Path) -> None:
    turns = _turns(database)
    inside = 0
    most_inside = 0
    count = threading.Lock()

    def write() -> None:
        nonlocal inside, most_inside
        for _ in range(20):
            with turns.turn():
                with count:
                    inside += 1
                    most_inside = max(most_inside, inside)
                time.sleep(0.001)
                with count:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert most_inside == 1


def test_a_turn_held_too_long_is_a_database_error_the_webhook_answers_with_503(
    database: Path,
) -> None:
    turns = _turns(database, timeout=0.2)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with turns.turn():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(30)
        with pytest.raises(sa.exc.OperationalError) as raised, turns.turn():
            pass
    finally:
        release.set()
        holder.join(30)

    assert unreachable(raised.value)
    assert "database is locked" in str(raised.value)


def test_a_database_in_memory_has_thread_turns_only() -> None:
    engine = make_engine("sqlite://")
    turns = WriteTurns.for_engine(engine, 1.0)
    engine.dispose()

    assert turns is not None
    assert turns.lock_path is None
    with turns.turn():
        pass


def test_a_lock_file_that_cannot_be_opened_is_a_database_error(tmp_path: Path) -> None:
    turns = WriteTurns(str(tmp_path / "missing" / "sync.db.writers"), 1.0)

    with pytest.raises(sa.exc.OperationalError) as raised, turns.turn():
        pass

    assert unreachable(raised.value)
    assert os.listdir(tmp_path) == []


def test_postgresql_takes_no_turns_its_rows_are_locked_instead(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        assert WriteTurns.for_engine(engine, 1.0) is None
    finally:
        engine.dispose()
