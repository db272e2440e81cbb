"""The write buffer: keeps rows through failures, retries with backoff, counts what overflows."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from services.storage.tick_writer import TickWriter, WriterThread
from tests.waiting import wait_until


class FlakyDatabase:
    def __init__(self) -> None:
        self.down = False
        self.rows: list[dict[str, Any]] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.episodes: dict[str, dict[str, Any]] = {}

    def write(
        self,
        rows: Sequence[dict[str, Any]],
        sessions: Sequence[dict[str, Any]],
        episodes: Sequence[dict[str, Any]],
    ) -> None:
        if self.down:
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))
        self.rows.extend(rows)
        self.sessions.update({s["session_id"]: s for s in sessions})
        self.episodes.update({e["episode_id"]: e for e in episodes})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rows(start: int, n: int) -> list[dict[str, Any]]:
    return [{"tick": i} for i in range(start, start + n)]


def test_rows_survive_an_outage_and_are_written_in_order_once_it_ends() -> None:
    db, clock = FlakyDatabase(), Clock()
    writer = TickWriter(db.write, max_rows=1000, max_batch=3, clock=clock)
    db.down = True
    writer.submit(rows(0, 5), [{"session_id": "s", "v": 1}])
    assert writer.flush() is False
    writer.submit(rows(5, 5), [{"session_id": "s", "v": 2}], [{"episode_id": "a", "sev": "W"}])
    writer.submit([], [], [{"episode_id": "a", "sev": "C"}])
    assert writer.pending_rows == 10
    assert writer.stats.last_error is not None
    db.down = False
    assert writer.flush() is False  # still inside the backoff
    clock.now = 60
    assert writer.flush() is True
    assert [r["tick"] for r in db.rows] == list(range(10))
    assert db.sessions["s"]["v"] == 2
    assert db.episodes == {"a": {"episode_id": "a", "sev": "C"}}  # only the newest state
    assert writer.pending_rows == 0
    assert writer.stats.last_error is None


def test_backoff_grows_while_failing() -> None:
    db, clock = FlakyDatabase(), Clock()
    writer = TickWriter(db.write, max_rows=1000, min_backoff=1, max_backoff=8, clock=clock)
    db.down = True
    writer.submit(rows(0, 1), [])
    attempts = 0
    for second in range(0, 40):
        clock.now = second
        before = writer.stats.failed_attempts
        writer.flush()
        attempts += writer.stats.failed_attempts - before
    # 1, 2, 4, 8, 8, 8 ... seconds apart: far fewer attempts than seconds.
    assert 5 <= attempts <= 9


def test_a_driver_error_from_copy_is_kept_and_retried_not_raised() -> None:
    """Review: psycopg errors from COPY (not wrapped by SQLAlchemy) escaped the buffer's retry."""
    calls = []

    def locked_out(*_rows: object) -> None:
        calls.append(1)
        raise psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")

    writer = TickWriter(locked_out, max_rows=100)
    writer.submit([{"tick": 1}], [])
    assert writer.flush() is False
    assert writer.pending_rows == 1
    assert "lock timeout" in (writer.stats.last_error or "")


def test_overflow_drops_the_oldest_rows_and_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    db = FlakyDatabase()
    writer = TickWriter(db.write, max_rows=4, clock=Clock())
    db.down = True
    writer.submit(rows(0, 3), [])
    assert writer.stats.last_drop_at is None
    before = time.time()
    writer.submit(rows(3, 3), [])
    assert writer.stats.dropped_rows == 2
    assert "dropped the 2 oldest" in caplog.text
    # Wall-clock time: /health compares it across processes (services/live/health_rules.py).
    assert writer.stats.last_drop_at is not None
    assert before <= writer.stats.last_drop_at <= time.time()
    db.down = False
    assert writer.flush(force=True)
    assert [r["tick"] for r in db.rows] == [2, 3, 4, 5]


class HangingDatabase(FlakyDatabase):
    """Each write waits until `release` is set: a table lock, a stuck disk."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writing = threading.Event()

    def write(self, *batch: Sequence[dict[str, Any]]) -> None:
        self.writing.set()
        self.release.wait(10)
        super().write(*batch)


def test_submitting_never_waits_for_a_write_that_hangs() -> None:
    db = HangingDatabase()
    writer = WriterThread(TickWriter(db.write, max_rows=100), idle_seconds=0.05)
    writer.start()
    try:
        writer.submit([{"tick": 0}], [])
        assert db.writing.wait(5)
        for tick in range(1, 4):  # returns at once though the first write is still waiting
            writer.submit([{"tick": tick}], [{"session_id": "s", "tick": tick}])
        assert not db.release.is_set() and writer.pending_rows == 4
        db.release.set()
        wait_until(lambda: writer.pending_rows == 0, what="the rows to be written")
    finally:
        db.release.set()
        assert writer.stop(flush_seconds=1)
    assert [r["tick"] for r in db.rows] == [0, 1, 2, 3]
    assert db.sessions["s"]["tick"] == 3


def test_stopping_does_not_wait_past_its_deadline_for_a_write_that_hangs() -> None:
    """#15: a write blocked on a table lock held `stop` until the server's grace period ended
    and the process was killed before it could log the rows it left."""
    db = HangingDatabase()
    writer = WriterThread(TickWriter(db.write, max_rows=100), idle_seconds=0.05)
    writer.start()
    try:
        writer.submit([{"tick": 0}, {"tick": 1}], [])
        assert db.writing.wait(5)
        started = time.monotonic()
        assert not writer.stop(flush_seconds=0.3)
        assert time.monotonic() - started < 2
        assert writer.pending_rows == 2  # what the caller logs and counts as lost
    finally:
        db.release.set()


def test_stopping_writes_what_was_handed_over_last() -> None:
    db = FlakyDatabase()
    writer = WriterThread(TickWriter(db.write, max_rows=100), idle_seconds=0.05)
    writer.start()
    db.down = True
    writer.submit([{"tick": 0}], [])
    wait_until(lambda: writer.stats.failed_attempts >= 1, what="a failed write")
    db.down = False
    writer.submit([{"tick": 1}], [], [{"episode_id": "e"}])
    assert writer.stop(flush_seconds=5)
    assert [r["tick"] for r in db.rows] == [0, 1] and "e" in db.episodes


def test_the_bound_holds_while_a_write_hangs_counting_what_waits_to_be_handed_over() -> None:
    # Regression: ticks queued in front of a hanging write were outside the bound (611,000
    # rows pending with a cap of 500,000).
    db = HangingDatabase()
    writer = WriterThread(TickWriter(db.write, max_rows=3000), idle_seconds=0.05)
    writer.start()
    try:
        writer.submit(rows(0, 1000), [])
        assert db.writing.wait(5)
        for tick in range(1, 10):
            writer.submit(rows(tick * 1000, 1000), [{"session_id": "s", "tick": tick}])
            assert writer.pending_rows <= 3000
        assert writer.pending_rows == 3000
        assert writer.stats.dropped_rows == 7000 and writer.stats.last_drop_at is not None
        db.release.set()
        wait_until(lambda: writer.pending_rows == 0, what="the rows to be written")
    finally:
        db.release.set()
        assert writer.stop(flush_seconds=1)
    ticks = [r["tick"] for r in db.rows]
    # The write in flight, then the newest: the oldest waiting rows went first.
    assert ticks == list(range(0, 1000)) + list(range(8000, 10000))
    assert db.sessions["s"]["tick"] == 9  # whole-state rows are never dropped
