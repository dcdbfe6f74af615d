"""SQLite: the webhook path's writers take turns on a lock file, woken the moment it is free.

SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps 1, 2,
5, 10 ms and longer between tries, however soon the lock is released. Recording a delivery holds
the write lock for well under a millisecond, so under a burst the web workers slept far longer
than they worked (about one core of two used, a closed-loop p99 of 120-230 ms in
`bench/webhooks.py`). Here a recording first takes its turn: one thread per process at a time
(a thread lock), then one process at a time (`flock` on a file beside the database, which the
kernel hands to the next waiter on release, and releases by itself if its holder dies). The
recording then finds SQLite's lock free, unless a writer outside this path (the worker, a
console) holds it, which it waits for on SQLite's busy timeout as before.

Every wait is bounded: the thread lock by `timeout`; the file lock is only ever held around one
SQLite transaction, itself bounded by the busy timeout, by one thread per process. Only a
process stopped in the middle of that transaction holds it longer (until it runs or its
supervisor kills it), and then only one thread of each other process waits on it: the others
time out on the thread lock and answer 503.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# The lock file beside an SQLite database file `sync.db`: `sync.db.writers`.
LOCK_FILE_SUFFIX = ".writers"


class WriteTurns:
    """Turns at writing one SQLite database, for the threads and processes that use it."""

    def __init__(self, lock_path: str | None, timeout: float) -> None:
        self.lock_path = lock_path
        self.timeout = timeout
        self._guard = threading.Lock()
        self._pid: int | None = None
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    @classmethod
    def for_engine(cls, engine: Engine, timeout: float) -> WriteTurns | None:
        """The turns of an SQLite engine's database; None for other databases."""
        if engine.dialect.name != "sqlite":
            return None
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            # One process's own database (or a URI this does not parse): threads only.
            return cls(None, timeout)
        return cls(os.path.abspath(database) + LOCK_FILE_SUFFIX, timeout)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold this process's and then the database's writing turn.

        Raises SQLAlchemy's OperationalError, as SQLite's own busy timeout does, when another
        thread of this process holds the turn for longer than `timeout`.
        """
        thread_lock, fd = self._for_this_process()
        if not thread_lock.acquire(timeout=self.timeout):
            raise sa.exc.OperationalError(
                None, None, sqlite3.OperationalError("database is locked: no writing turn")
            )
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            thread_lock.release()

    def _for_this_process(self) -> tuple[threading.Lock, int | None]:
        # A forked child must not share its parent's locks: the parent's thread lock may be held
        # at the fork, and a file lock belongs to the open file, which fork shares.
        pid = os.getpid()
        with self._guard:
            if self._pid != pid:
                if self._fd is not None:
                    os.close(self._fd)  # the parent's; closing it here leaves the parent's lock
                    self._fd = None
                self._thread_lock = threading.Lock()
                self._fd = self._open() if self.lock_path else None
                self._pid = pid
            return self._thread_lock, self._fd

    def _open(self) -> int:
        assert self.lock_path is not None
        try:
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise sa.exc.OperationalError(
                None, None, sqlite3.OperationalError(f"cannot open the writers' lock file: {error}")
            ) from error
