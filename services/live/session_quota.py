"""How many live sessions a collector takes on: every entry with a new session id would
otherwise start a session scored every tick for 15 minutes, so a burst of made-up ids could
stretch each tick past its length. New sessions beyond the limits are refused and counted;
sessions taken over from another collector are kept whatever the count."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger(__name__)


class SessionQuota:
    def __init__(
        self,
        max_sessions: int,
        max_per_event: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_sessions = max_sessions
        self.max_per_event = max_per_event
        self._clock = clock
        self._event_of: dict[str, str | None] = {}  # session -> the event it was counted under
        self._per_event: Counter[str] = Counter()
        self.refused_events = 0  # events of sessions refused, since start
        self._logged_at: float | None = None

    def __len__(self) -> int:
        return len(self._event_of)

    def admit(self, session_id: str, event_id: str | None) -> bool:
        """Whether a new session may start; a refusal is counted and logged once a minute."""
        full = len(self._event_of) >= self.max_sessions
        event_full = event_id is not None and self._per_event[event_id] >= self.max_per_event
        if full or event_full:
            self.refused_events += 1
            self._log(event_id if event_full and not full else None)
            return False
        self.take(session_id, event_id)
        return True

    def take(self, session_id: str, event_id: str | None) -> None:
        """Count a session without asking (one taken over from another collector)."""
        if session_id in self._event_of:
            return
        self._event_of[session_id] = event_id
        if event_id is not None:
            self._per_event[event_id] += 1

    def release(self, session_id: str) -> None:
        event_id = self._event_of.pop(session_id, None)
        if event_id is not None:
            self._per_event[event_id] -= 1
            if not self._per_event[event_id]:
                del self._per_event[event_id]

    def _log(self, event_id: str | None) -> None:
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < 60:
            return
        self._logged_at = now
        limit = (
            f"event {event_id!r} has {self.max_per_event} live sessions (MAX_EVENT_SESSIONS)"
            if event_id is not None
            else f"{self.max_sessions} live sessions (MAX_LIVE_SESSIONS)"
        )
        log.warning(
            "new sessions refused: %s; %d events of refused sessions so far",
            limit,
            self.refused_events,
        )
