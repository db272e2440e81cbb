"""A bounded, retrying buffer between the tick and the database, written from its own thread.

The tick never blocks on the database: it hands its rows to `WriterThread` and goes on. A database
that is away, or one that hangs on a lock, only holds up that thread; rows wait in the buffer and
are retried with exponential backoff. When the buffer is full the oldest score rows go first; each
one is counted and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa

from services.core import instruments

log = logging.getLogger(__name__)

Rows = Sequence[dict[str, Any]]
WriteBatch = Callable[[Rows, Rows, Rows], None]


@dataclass(slots=True)
class WriterStats:
    written_rows: int = 0
    dropped_rows: int = 0
    failed_attempts: int = 0
    last_error: str | None = None
    last_success_at: float | None = None
    last_drop_at: float | None = None  # wall clock: health compares it across processes


class TickWriter:
    def __init__(
        self,
        write_batch: WriteBatch,
        max_rows: int,
        max_batch: int = 20_000,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write_batch = write_batch
        self._max_rows = max_rows
        self._max_batch = max_batch
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._clock = clock
        self._metrics: deque[dict[str, Any]] = deque()
        # Catalogue and episode rows carry whole state: only the newest of each key matters.
        self._sessions: dict[str, dict[str, Any]] = {}
        self._episodes: dict[str, dict[str, Any]] = {}
        self._backoff = 0.0
        self._retry_at = 0.0
        self.stats = WriterStats()

    @property
    def pending_rows(self) -> int:
        return len(self._metrics)

    def submit(self, metric_rows: Rows, session_rows: Rows, episode_rows: Rows = ()) -> None:
        self._metrics.extend(metric_rows)
        for row in session_rows:
            self._sessions[row["session_id"]] = row
        for row in episode_rows:
            self._episodes[row["episode_id"]] = row
        overflow = len(self._metrics) - self._max_rows
        if overflow > 0:
            for _ in range(overflow):
                self._metrics.popleft()
            self.count_dropped(overflow)

    @property
    def max_rows(self) -> int:
        return self._max_rows

    def count_dropped(self, rows: int) -> None:
        if rows <= 0:
            return
        self.stats.dropped_rows += rows
        self.stats.last_drop_at = time.time()
        log.error(
            "write buffer full (%d rows): dropped the %d oldest score rows (%d in total)",
            self._max_rows,
            rows,
            self.stats.dropped_rows,
        )

    def flush(self, force: bool = False) -> bool:
        """Write what is buffered; False if rows remain. Honours the backoff unless forced."""
        if not self._metrics and not self._sessions and not self._episodes:
            return True
        if not force and self._clock() < self._retry_at:
            return False
        while self._metrics or self._sessions or self._episodes:
            batch = [self._metrics[i] for i in range(min(self._max_batch, len(self._metrics)))]
            catalogue = list(self._sessions.values())
            episodes = list(self._episodes.values())
            started = time.perf_counter()
            try:
                self._write_batch(batch, catalogue, episodes)
            # COPY runs on the driver's cursor, so its errors arrive unwrapped by SQLAlchemy.
            except (sa.exc.SQLAlchemyError, psycopg.Error, OSError) as exc:
                self._note_failure(exc)
                return False
            finally:
                instruments.database_write_seconds.observe(time.perf_counter() - started)
            for _ in batch:
                self._metrics.popleft()
            for row in catalogue:
                if self._sessions.get(row["session_id"]) is row:
                    del self._sessions[row["session_id"]]
            for row in episodes:
                if self._episodes.get(row["episode_id"]) is row:
                    del self._episodes[row["episode_id"]]
            self.stats.written_rows += len(batch)
        if self._backoff:
            log.info("database writes recovered; buffer drained")
        self._backoff = 0.0
        self._retry_at = 0.0
        self.stats.last_error = None
        self.stats.last_success_at = time.time()
        return True

    def _note_failure(self, exc: BaseException) -> None:
        self.stats.failed_attempts += 1
        self._backoff = min(self._max_backoff, max(self._min_backoff, self._backoff * 2))
        self._retry_at = self._clock() + self._backoff
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        self.stats.last_error = message
        log.warning(
            "database write failed (%s); %d rows kept, retrying in %.1fs",
            message,
            len(self._metrics),
            self._backoff,
        )


class WriterThread:
    """Runs a `TickWriter` on a thread of its own; `submit` only hands rows over.

    The writer and its buffer are touched by this thread alone. While a write hangs (a lock, a
    slow disk) submitted ticks queue up in front of it and join the bounded buffer as soon as the
    write returns, so the bound holds once the thread can act again.
    """

    def __init__(self, writer: TickWriter, idle_seconds: float = 0.5) -> None:
        self.writer = writer
        self._idle = idle_seconds
        self._inbox: deque[tuple[Rows, Rows, Rows]] = deque()
        self._queued = 0
        self._arrived = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stats(self) -> WriterStats:
        return self.writer.stats

    @property
    def pending_rows(self) -> int:
        """Score rows not yet written: handed over, or buffered for a retry."""
        return self._queued + self.writer.pending_rows

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="tick-writer", daemon=True)
        self._thread.start()

    def submit(self, metric_rows: Rows, session_rows: Rows, episode_rows: Rows = ()) -> None:
        with self._arrived:
            self._inbox.append((metric_rows, session_rows, episode_rows))
            self._queued += len(metric_rows)
            self._keep_the_bound()
            self._arrived.notify()

    def _keep_the_bound(self) -> None:
        """While a write hangs, handed-over ticks wait here: the buffer's bound counts them too,
        and the oldest waiting score rows go first (catalogue and episode rows carry whole state
        and are tiny: they stay). Called with the lock held."""
        overflow = self._queued + self.writer.pending_rows - self.writer.max_rows
        if overflow <= 0:
            return
        dropped = 0
        for index, (metrics, sessions, episodes) in enumerate(self._inbox):
            cut = min(overflow - dropped, len(metrics))
            if cut:
                self._inbox[index] = (metrics[cut:], sessions, episodes)
                dropped += cut
            if dropped == overflow:
                break
        self._queued -= dropped
        self.writer.count_dropped(dropped)

    def stop(self, flush_seconds: float = 10.0) -> bool:
        """Write what is left, trying for up to `flush_seconds` in all; True if nothing is left.

        A write in progress (blocked on a lock, say) is waited for only until the deadline: a
        server stopping has a grace period (gunicorn's), and past it nothing would be logged."""
        deadline = time.monotonic() + flush_seconds
        thread = self._thread
        if thread is not None:
            self._stopping.set()
            thread.join(flush_seconds)
            if thread.is_alive():
                return False
            self._thread = None
        self._take_inbox()
        while not self.writer.flush(force=True) and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.pending_rows == 0

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._arrived:
                if not self._inbox:
                    self._arrived.wait(self._idle)
            self._take_inbox()
            self.writer.flush()

    def _take_inbox(self) -> None:
        while True:
            with self._arrived:
                if not self._inbox:
                    return
                item = self._inbox.popleft()
                self._queued -= len(item[0])
                # Handed over under the lock: the bound never sees rows in neither place.
                self.writer.submit(*item)
