"""A circuit breaker for the content writer's calls: a failing service is left alone for a while.

Closed, calls go through and consecutive failures are counted; at `failures` in a row it opens
and refuses calls for `cooldown_seconds`; then one trial call is let through (half open): its
success closes the breaker, its failure opens it for another cooldown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or cooldown_seconds <= 0:
            raise ValueError("a breaker opens after at least one failure, for a positive time")
        self.failures = failures
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failed_in_row = 0
        self._opened_at = 0.0
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    def allow(self) -> bool:
        """Whether a call may go out now; in half open, only the one trial call."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if self._clock() - self._opened_at < self.cooldown_seconds:
                    return False
                self._state = BreakerState.HALF_OPEN
                return True
            return False  # a trial call is out already

    def succeeded(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failed_in_row = 0

    def failed(self) -> None:
        with self._lock:
            self._failed_in_row += 1
            if self._state is BreakerState.HALF_OPEN or self._failed_in_row >= self.failures:
                if self._state is not BreakerState.OPEN:
                    self.opened_count += 1
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
