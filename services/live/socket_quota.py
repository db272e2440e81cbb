"""How many live sockets one server process holds: in all (a reserve of the worker's
connections stays for pages and /health/ready), per sign-in (one cookie opened 2,000 and took a
server offline) and per session. A refused socket is closed with SOCKET_REFUSED and a reason."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger(__name__)

# A close code in the range applications define (4000-4999): "too many", like HTTP's 429.
SOCKET_REFUSED = 4429


class SocketQuota:
    def __init__(
        self,
        per_process: int,
        per_sign_in: int,
        per_session: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_process = per_process
        self.per_sign_in = per_sign_in
        self.per_session = per_session
        self._lock = threading.Lock()
        self._total = 0
        self._by_sign_in: Counter[str] = Counter()
        self._by_session: Counter[str] = Counter()
        self.refused = 0
        self._clock = clock
        self._logged_at: float | None = None

    def claim(self, sign_in: str, session_id: str) -> str | None:
        """Take a place for a socket; None when taken, else why not (for the close message)."""
        with self._lock:
            if self._total >= self.per_process:
                reason = f"this server holds its most live sockets ({self.per_process})"
            elif self._by_sign_in[sign_in] >= self.per_sign_in:
                reason = f"this sign-in has {self.per_sign_in} live sockets open already"
            elif self._by_session[session_id] >= self.per_session:
                reason = f"this session has {self.per_session} live sockets on this server"
            else:
                self._total += 1
                self._by_sign_in[sign_in] += 1
                self._by_session[session_id] += 1
                return None
            self.refused += 1
            self._log(reason, sign_in, session_id)
            return reason

    def _log(self, reason: str, sign_in: str, session_id: str) -> None:
        # A browser retries with backoff, a script may not: one line a minute says enough.
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < 60:
            return
        self._logged_at = now
        log.warning(
            "live socket refused: %s (sign-in %s, session %r; %d refused so far)",
            reason,
            sign_in[:12],
            session_id[:80],
            self.refused,
        )

    def release(self, sign_in: str, session_id: str) -> None:
        with self._lock:
            self._total -= 1
            for counter, key in ((self._by_sign_in, sign_in), (self._by_session, session_id)):
                counter[key] -= 1
                if not counter[key]:
                    del counter[key]  # a sign-in or session with no socket costs nothing

    @property
    def open(self) -> int:
        with self._lock:
            return self._total
