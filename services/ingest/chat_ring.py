"""The last few chat messages of each live session, in memory only.

The content writer reads them to write for the room as it is; nothing here is ever written to the
database, a checkpoint or a log. Both bounds hold whatever the platform sends: a few messages per
session, and a fixed number of sessions (the one heard from longest ago is forgotten first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

MESSAGES_KEPT = 8
SESSIONS_KEPT = 20_000


class ChatRing:
    def __init__(self, messages: int = MESSAGES_KEPT, sessions: int = SESSIONS_KEPT) -> None:
        if messages < 1 or sessions < 1:
            raise ValueError("a chat ring keeps at least one message of one session")
        self.messages = messages
        self.sessions = sessions
        self._rings: OrderedDict[str, deque[str]] = OrderedDict()
        # The collector's loop adds while the agent's chore thread reads.
        self._lock = threading.Lock()

    def add(self, session_id: str, text: str) -> None:
        with self._lock:
            ring = self._rings.get(session_id)
            if ring is None:
                ring = self._rings[session_id] = deque(maxlen=self.messages)
                if len(self._rings) > self.sessions:
                    self._rings.popitem(last=False)
            else:
                self._rings.move_to_end(session_id)
            ring.append(text)

    def recent(self, session_id: str) -> tuple[str, ...]:
        """The session's kept messages, oldest first."""
        with self._lock:
            return tuple(self._rings.get(session_id, ()))

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._rings.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._rings)
