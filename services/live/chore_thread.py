"""The collector's database chores, on a thread of their own: the agent's turn after each tick
and the housekeeper's housekeeping.

Both write to the database. On the tick loop, a write waiting on a lock (SQLite's 30-s busy
timeout, a PostgreSQL row lock) held up scoring and the partition leases with it; here it holds up
only the chores. A turn is "do what is due" (expire, measure, read delivery outcomes), so turns
that a slow database kept waiting merge into one; only the episodes to suggest for are kept, and
at most `max_waiting` of them (the newest).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

# The episodes opened and those escalated since the last turn.
AgentTurn = Callable[[Sequence[dict[str, Any]], Sequence[dict[str, Any]]], None]


class ChoreThread:
    def __init__(
        self,
        agent_turn: AgentTurn,
        housekeeping: Callable[[], None],
        is_housekeeper: Callable[[], bool],
        housekeeping_every: float,
        max_waiting: int = 1000,
    ) -> None:
        self._agent_turn = agent_turn
        self._housekeeping = housekeeping
        self._is_housekeeper = is_housekeeper
        self.housekeeping_every = housekeeping_every
        self._max_waiting = max_waiting
        self._opened: list[dict[str, Any]] = []
        self._escalated: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._housekept_at = 0.0
        self.skipped_episodes = 0

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="collector-chores", daemon=True)
        self._thread.start()

    def tick_done(
        self, opened: Sequence[dict[str, Any]], escalated: Sequence[dict[str, Any]] = ()
    ) -> None:
        """A tick was scored: its newly opened episodes await a suggestion (and, with the
        escalated ones, an alert); a turn is due."""
        with self._lock:
            self._opened.extend(opened)
            # Escalations are rare (one per episode at most) but bounded all the same.
            self._escalated = [*self._escalated, *escalated][-self._max_waiting :]
            overflow = len(self._opened) - self._max_waiting
            if overflow > 0:
                del self._opened[:overflow]
                self.skipped_episodes += overflow
                log.warning(
                    "the agent's turns are held up: no suggestion for %d older episodes "
                    "(%d in total)",
                    overflow,
                    self.skipped_episodes,
                )
        self._due.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Let a running chore finish (up to `timeout`), then stop."""
        self._stopping.set()
        self._due.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("a collector chore is still waiting on the database; leaving it")
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            # Housekeeping must come round while no tick does (a collector owning nothing).
            self._due.wait(min(1.0, self.housekeeping_every))
            if self._stopping.is_set():
                return
            if self._due.is_set():
                self._due.clear()
                with self._lock:
                    opened, self._opened = self._opened, []
                    escalated, self._escalated = self._escalated, []
                self._guarded("the agent's turn", self._agent_turn, opened, escalated)
            now = time.monotonic()
            if now - self._housekept_at >= self.housekeeping_every and self._is_housekeeper():
                self._housekept_at = now
                self._guarded("housekeeping", self._housekeeping)

    @staticmethod
    def _guarded(what: str, chore: Callable[..., None], *args: Any) -> None:
        # The chores handle their own database and Redis errors; anything else is a bug that
        # must not end them for good.
        try:
            chore(*args)
        except Exception:
            log.exception("%s failed", what)
