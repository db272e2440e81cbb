"""Per-session sliding windows: what the room did in the last minute, decayed on every tick.

All times are the collector's clock (seconds since the epoch); payload timestamps are not trusted
for windowing because platform clocks drift and replays would land in the past.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from services.ingest.contracts import ATTENTIVE, SignalEvent, SignalKind

_RECENTLY_CLOSED_POLLS = 64


@dataclass(frozen=True, slots=True)
class WindowConfig:
    tick_seconds: float = 5.0
    rate_window_seconds: float = 60.0
    active_window_seconds: float = 120.0
    poll_idle_seconds: float = 600.0


@dataclass(frozen=True, slots=True)
class SessionSignals:
    chat_msgs_per_min: float
    poll_participation: float
    active_users: int
    total_users: int
    reactions_per_min: float
    user_leave_rate: float
    poll_active: bool
    # Counts since the previous tick: what the minute-long rates smooth over, for detectors
    # that must see a sudden change within a tick or two.
    chat_in_tick: int = 0
    reactions_in_tick: int = 0
    votes_in_tick: int = 0
    leaves_in_tick: int = 0
    # Present viewers by the attention state they last reported (design §2's optional signal);
    # empty when the platform sends none. Counts only: no one's state leaves the window.
    attention: dict[str, int] = field(default_factory=dict)

    @property
    def attention_reported(self) -> int:
        return sum(self.attention.values())

    @property
    def attentive_share(self) -> float | None:
        """Of the present viewers who reported a state, the share looking (`active`); None
        without any report."""
        reported = self.attention_reported
        return self.attention.get(ATTENTIVE, 0) / reported if reported else None

    def as_contract(self) -> dict[str, float | int]:
        """The `signals` object of `engagement:update` (design §3)."""
        return {
            "chat_msgs_per_min": round(self.chat_msgs_per_min, 4),
            "poll_participation": round(self.poll_participation, 4),
            "active_users": self.active_users,
            "total_users": self.total_users,
            "reactions_per_min": round(self.reactions_per_min, 4),
            "user_leave_rate": round(self.user_leave_rate, 4),
        }


class RateCounter:
    """Events per whole second, summed over a sliding window; O(1) amortised per event and tick."""

    __slots__ = ("_buckets", "_total", "_window")

    def __init__(self, window_seconds: float) -> None:
        self._window = window_seconds
        self._buckets: deque[list[int]] = deque()
        self._total = 0

    def add(self, now: float) -> None:
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([second, 1])
        self._total += 1

    def count(self, now: float) -> int:
        oldest = now - self._window
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest:
            self._total -= buckets.popleft()[1]
        return self._total


@dataclass(slots=True)
class _Poll:
    voters: set[str] = field(default_factory=set)
    present_voters: int = 0
    last_vote_at: float = 0.0


class SessionWindow:
    """One live session's room state: presence, recent activity, rates and open polls."""

    def __init__(
        self, session_id: str, event_id: str | None, config: WindowConfig, now: float
    ) -> None:
        self.session_id = session_id
        self.event_id = event_id
        self.session_title: str | None = None
        self.event_title: str | None = None
        self.config = config
        self.first_seen = now
        self.last_event_at = now
        self._present: set[str] = set()
        # Present users by time of their last interaction, oldest first, so expiry pops the front.
        self._active: OrderedDict[str, float] = OrderedDict()
        self._chat = RateCounter(config.rate_window_seconds)
        self._reactions = RateCounter(config.rate_window_seconds)
        self._leaves = RateCounter(config.rate_window_seconds)
        self._polls: dict[str, _Poll] = {}
        self._closed_polls: deque[str] = deque(maxlen=_RECENTLY_CLOSED_POLLS)
        self._in_tick = {SignalKind.CHAT: 0, SignalKind.REACTION: 0, SignalKind.VOTE: 0}
        self._leaves_in_tick = 0
        # Each present viewer's last reported attention state, dropped when they leave, and
        # how many are in each (kept as they change: a tick only copies them).
        self._attention: dict[str, str] = {}
        self._attention_counts: dict[str, int] = {}

    @property
    def present_count(self) -> int:
        return len(self._present)

    def apply(self, event: SignalEvent, now: float) -> None:
        # A reclaimed or backlogged entry is older than what was already seen.
        self.last_event_at = max(self.last_event_at, now)
        if self.event_id is None and event.event_id is not None:
            self.event_id = event.event_id
        if event.session_title is not None:
            self.session_title = event.session_title
        if event.event_title is not None:
            self.event_title = event.event_title
        kind, user = event.kind, event.user_id
        if kind in self._in_tick:
            self._in_tick[kind] += 1
        if kind is SignalKind.LEAVE:
            self._leave(user, now)  # type: ignore[arg-type]
            return
        if user is not None:
            self._arrive(user)
            if event.attention is not None:
                self._attend(user, event.attention)
        if kind is SignalKind.CHAT:
            self._chat.add(now)
        elif kind is SignalKind.REACTION:
            self._reactions.add(now)
        elif kind is SignalKind.VOTE:
            self._vote(event.poll_id, user, now)  # type: ignore[arg-type]
        elif kind is SignalKind.POLL_CLOSED:
            self._close_poll(event.poll_id)  # type: ignore[arg-type]
        if user is not None and kind not in (SignalKind.JOIN, SignalKind.PRESENCE):
            self._active[user] = now
            self._active.move_to_end(user)

    def _arrive(self, user: str) -> None:
        if user in self._present:
            return
        self._present.add(user)
        for poll in self._polls.values():
            if user in poll.voters:
                poll.present_voters += 1

    def _leave(self, user: str, now: float) -> None:
        if user not in self._present:
            return
        self._present.discard(user)
        self._active.pop(user, None)
        self._attend(user, None)
        self._leaves.add(now)
        self._leaves_in_tick += 1
        for poll in self._polls.values():
            if user in poll.voters:
                poll.present_voters -= 1

    def _attend(self, user: str, state: str | None) -> None:
        """`user` now reports `state` (None: left, reports nothing)."""
        counts = self._attention_counts
        before = self._attention.pop(user, None)
        if before is not None:
            counts[before] -= 1
            if not counts[before]:
                del counts[before]
        if state is not None:
            self._attention[user] = state
            counts[state] = counts.get(state, 0) + 1

    def _vote(self, poll_id: str, user: str, now: float) -> None:
        if poll_id in self._closed_polls:
            return
        poll = self._polls.get(poll_id)
        if poll is None:
            poll = self._polls[poll_id] = _Poll()
        poll.last_vote_at = now
        if user not in poll.voters:
            poll.voters.add(user)
            poll.present_voters += 1

    def _close_poll(self, poll_id: str) -> None:
        self._polls.pop(poll_id, None)
        self._closed_polls.append(poll_id)

    def warming_up(self, now: float) -> bool:
        """Whether the session is younger than its rate window: the room is still filling and
        has not had a whole window to show its engagement in."""
        return now - self.first_seen < self.config.rate_window_seconds

    def snapshot(self, now: float) -> SessionSignals:
        """The signals at `now`, after dropping everything older than its window.

        Called once per tick: the per-tick counts start again from zero afterwards.
        """
        cfg = self.config
        active_since = now - cfg.active_window_seconds
        while self._active:
            at = next(iter(self._active.values()))
            if at >= active_since:
                break
            self._active.popitem(last=False)
        idle_before = now - cfg.poll_idle_seconds
        for poll_id in [p for p, poll in self._polls.items() if poll.last_vote_at < idle_before]:
            del self._polls[poll_id]

        # A session younger than its window has not had a whole window to fill yet.
        span = min(cfg.rate_window_seconds, max(now - self.first_seen, 2 * cfg.tick_seconds))
        per_min = 60.0 / span
        present = len(self._present)
        leaves = self._leaves.count(now)
        participation = 0.0
        if present and self._polls:
            participation = min(1.0, max(p.present_voters for p in self._polls.values()) / present)
        in_tick = self._in_tick
        signals = SessionSignals(
            chat_msgs_per_min=self._chat.count(now) * per_min,
            poll_participation=participation,
            active_users=len(self._active),
            total_users=present,
            reactions_per_min=self._reactions.count(now) * per_min,
            user_leave_rate=leaves / (present + leaves) if leaves else 0.0,
            poll_active=bool(self._polls),
            chat_in_tick=in_tick[SignalKind.CHAT],
            reactions_in_tick=in_tick[SignalKind.REACTION],
            votes_in_tick=in_tick[SignalKind.VOTE],
            leaves_in_tick=self._leaves_in_tick,
            attention=dict(self._attention_counts),
        )
        for kind in in_tick:
            in_tick[kind] = 0
        self._leaves_in_tick = 0
        return signals
