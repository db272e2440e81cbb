"""The simulated audience: session specs, scripted episodes, who is in the room, its polls.

`services.simulation.simulator` drives these; nothing here knows about streams or Redis.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from services.core.platform import valid_id

# After an episode ends the room returns to its usual level over this many seconds.
RECOVERY_SECONDS = 20.0
MASS_EXIT_SECONDS = 10.0
SUDDEN_DROP_FLOOR = 0.10
SUDDEN_DROP_RAMP_SECONDS = 3.0
GRADUAL_DECLINE_FLOOR = 0.20
GRADUAL_DECLINE_RAMP_SECONDS = 180.0
# A persistently low room (a dry stretch of a talk): activity slides over ~20 s - slower than a
# sudden drop's 3 s, much faster than a gradual decline's 3 min - to a quarter of its usual level
# and stays there for minutes. Distinct from SUDDEN_DROP (abrupt, to 10 %, 1-2 min).
LOW_ENGAGEMENT_LEVEL = 0.25
LOW_ENGAGEMENT_RAMP_SECONDS = 20.0
# A session's own user ids carry its id, so they must leave room for the suffix.
MAX_SESSION_ID_LENGTH = 200


class EpisodeKind(StrEnum):
    SUDDEN_DROP = "SUDDEN_DROP"
    GRADUAL_DECLINE = "GRADUAL_DECLINE"
    MASS_EXIT = "MASS_EXIT"
    LOW_ENGAGEMENT = "LOW_ENGAGEMENT"


@dataclass(frozen=True, slots=True)
class Episode:
    """A scripted disengagement over [start, end), in seconds since the epoch: the ground truth."""

    kind: EpisodeKind
    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(f"episode must end after it starts ({self.start} .. {self.end})")
        object.__setattr__(self, "kind", EpisodeKind(self.kind))

    def activity(self, t: float) -> float:
        """Multiplier (0..1) on chat, reactions and votes at `t`, recovery included."""
        if t < self.start:
            return 1.0
        if t < self.end:
            return self._during(t)
        at_end = self._during(self.end)
        return at_end + (1.0 - at_end) * min(1.0, (t - self.end) / RECOVERY_SECONDS)

    def settled(self, t: float) -> bool:
        """True once the episode no longer affects activity."""
        return t >= self.end + RECOVERY_SECONDS

    def _during(self, t: float) -> float:
        elapsed = t - self.start
        if self.kind is EpisodeKind.SUDDEN_DROP:
            ramp = min(1.0, elapsed / SUDDEN_DROP_RAMP_SECONDS)
            return 1.0 - (1.0 - SUDDEN_DROP_FLOOR) * ramp
        if self.kind is EpisodeKind.GRADUAL_DECLINE:
            ramp = min(1.0, elapsed / GRADUAL_DECLINE_RAMP_SECONDS)
            return 1.0 - (1.0 - GRADUAL_DECLINE_FLOOR) * ramp
        if self.kind is EpisodeKind.LOW_ENGAGEMENT:
            ramp = min(1.0, elapsed / LOW_ENGAGEMENT_RAMP_SECONDS)
            return 1.0 - (1.0 - LOW_ENGAGEMENT_LEVEL) * ramp
        # A mass exit empties the room; those who stay behave as before.
        return 1.0


# Random episodes last long enough for a 5 s tick and a 60 s window to see them.
RANDOM_EPISODE_SECONDS: dict[EpisodeKind, tuple[float, float]] = {
    EpisodeKind.SUDDEN_DROP: (60.0, 120.0),
    EpisodeKind.GRADUAL_DECLINE: (200.0, 300.0),
    EpisodeKind.MASS_EXIT: (60.0, 120.0),
    EpisodeKind.LOW_ENGAGEMENT: (180.0, 300.0),
}


def default_chat_per_min(audience: int) -> float:
    # Real webinars see a few to ~60 messages a minute whatever their size: sub-linear growth.
    return 2.5 * audience**0.35


def default_reactions_per_min(audience: int) -> float:
    return 4.0 * audience**0.45


@dataclass(frozen=True, slots=True)
class SimSession:
    """One simulated live session and how its audience behaves.

    Rates are the whole room's at full attendance; they follow the present count sub-linearly.
    `episodes` are explicit (absolute times); `episode_every` adds random ones, a mean gap in
    seconds between the end of one and the start of the next.
    """

    session_id: str
    event_id: str
    title: str
    audience: int = 100
    chat_per_min: float | None = None
    reactions_per_min: float | None = None
    poll_every: float | None = 240.0
    poll_duration: float = 60.0
    poll_participation: float = 0.55
    join_seconds: float = 30.0
    leave_per_hour: float = 1.2
    chatty_share: float = 0.05
    lurker_share: float = 0.75
    episodes: tuple[Episode, ...] = ()
    episode_every: float | None = None
    episode_kinds: tuple[EpisodeKind, ...] = tuple(EpisodeKind)
    event_title: str | None = None
    # Design §2's optional attention signal: each viewer's presence_update states.
    attention: bool = False

    def __post_init__(self) -> None:
        for name in ("session_id", "event_id"):
            if not valid_id(getattr(self, name)):
                raise ValueError(f"{name} must be a printable id without surrounding spaces")
        if len(self.session_id) > MAX_SESSION_ID_LENGTH:
            raise ValueError(f"session_id is longer than {MAX_SESSION_ID_LENGTH} characters")
        if self.audience < 1:
            raise ValueError("audience must be at least 1")
        if not 0.0 < self.poll_participation < 1.0:
            raise ValueError("poll_participation must be between 0 and 1 (exclusive)")
        if self.poll_every is not None and self.poll_every <= self.poll_duration:
            raise ValueError("poll_every must be longer than poll_duration")
        if self.poll_duration <= 0 or self.join_seconds <= 0 or self.leave_per_hour < 0:
            raise ValueError("poll_duration and join_seconds must be > 0, leave_per_hour >= 0")
        if not (
            self.chatty_share >= 0
            and self.lurker_share >= 0
            and self.chatty_share + self.lurker_share <= 1
        ):
            raise ValueError("chatty_share and lurker_share must be >= 0 and sum to at most 1")
        if self.episode_every is not None and (self.episode_every <= 0 or not self.episode_kinds):
            raise ValueError("episode_every needs a positive gap and at least one episode kind")

    @property
    def base_chat_per_min(self) -> float:
        if self.chat_per_min is not None:
            return self.chat_per_min
        return default_chat_per_min(self.audience)

    @property
    def base_reactions_per_min(self) -> float:
        if self.reactions_per_min is not None:
            return self.reactions_per_min
        return default_reactions_per_min(self.audience)


# Most votes come early in a poll, but not all at once: this keeps a 10,000-person poll's peak
# near 300 votes/s.
VOTE_DECAY_SECONDS = 30.0


def iso_time(t: float) -> str:
    """The platform's timestamps: ISO-8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Poll:
    """The poll running in a room: scheduled, or opened by an intervention."""

    id: str
    question: str
    options: list[tuple[str, str]]  # (option id, text)
    weights: list[float]
    opened: float
    closes: float
    hazard: float
    counts: list[int] = field(default_factory=list)
    voters: set[str] = field(default_factory=set)

    @classmethod
    def start(
        cls,
        poll_id: str,
        question: str,
        texts: list[str] | tuple[str, ...],
        t: float,
        duration: float,
        participation: float,
        rng: random.Random,
    ) -> Poll:
        # Hazard k·e^(-s/τ) integrates over the poll to -ln(1 - participation).
        decay = VOTE_DECAY_SECONDS * (1.0 - math.exp(-duration / VOTE_DECAY_SECONDS))
        return cls(
            id=poll_id,
            question=question,
            options=[(f"{poll_id}-opt-{n + 1}", text) for n, text in enumerate(texts)],
            weights=[rng.uniform(0.5, 3.0) for _ in texts],
            opened=t,
            closes=t + duration,
            hazard=-math.log(1.0 - participation) / decay,
            counts=[0] * len(texts),
        )

    def closed_payload(self, session_id: str) -> dict[str, Any]:
        """The platform's poll.closed payload (design §2)."""
        options = [
            {"id": oid, "text": text, "voteCount": count}
            for (oid, text), count in zip(self.options, self.counts, strict=True)
        ]
        poll = {
            "id": self.id,
            "sessionId": session_id,
            "question": self.question,
            "options": options,
            "totalVotes": sum(self.counts),
        }
        return {"poll": poll, "userVotedForOptionId": None}


class IndexedSet:
    """A set with O(1) add, remove and uniform random choice."""

    __slots__ = ("_index", "_items")

    def __init__(self) -> None:
        self._items: list[str] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def add(self, item: str) -> None:
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def remove(self, item: str) -> None:
        position = self._index.pop(item)
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position

    def choice(self, rng: random.Random) -> str:
        return self._items[int(rng.random() * len(self._items))]

    def items(self) -> list[str]:
        return list(self._items)


# Behaviour tiers: chatty few, regular some, lurkers most. Weights are relative per-user odds.
CHATTY, REGULAR, LURKER = 0, 1, 2
CHAT_WEIGHTS = (30.0, 4.0, 0.15)
REACTION_WEIGHTS = (5.0, 2.5, 0.5)


class Audience:
    """Who is present, who stepped out (and may come back), and who left in a mass exit."""

    def __init__(self, spec: SimSession, rng: random.Random) -> None:
        self.users = [f"{spec.session_id}-user-{n:05d}" for n in range(spec.audience)]
        chatty = math.ceil(spec.audience * spec.chatty_share)
        regular = max(0, spec.audience - chatty - round(spec.audience * spec.lurker_share))
        tiers = [CHATTY] * chatty + [REGULAR] * regular
        tiers += [LURKER] * (spec.audience - len(tiers))
        rng.shuffle(tiers)
        self._tier = dict(zip(self.users, tiers, strict=True))
        self._present = (IndexedSet(), IndexedSet(), IndexedSet())
        self.away = IndexedSet()
        self.held = IndexedSet()

    @property
    def present_count(self) -> int:
        return sum(len(tier) for tier in self._present)

    def is_present(self, user: str) -> bool:
        return user in self._present[self._tier[user]]

    def arrive(self, user: str) -> bool:
        """Bring `user` into the room; False if already there."""
        if self.is_present(user):
            return False
        if user in self.away:
            self.away.remove(user)
        if user in self.held:
            self.held.remove(user)
        self._present[self._tier[user]].add(user)
        return True

    def depart(self, user: str, *, hold: bool = False) -> bool:
        """Take `user` out; held users stay away until released. False if not present."""
        if not self.is_present(user):
            if hold and user in self.away:
                self.away.remove(user)
                self.held.add(user)
            return False
        self._present[self._tier[user]].remove(user)
        (self.held if hold else self.away).add(user)
        return True

    def release_held(self) -> None:
        for user in self.held.items():
            self.held.remove(user)
            self.away.add(user)

    def random_present(self, rng: random.Random) -> str | None:
        return self.pick((1.0, 1.0, 1.0), rng)

    def pick(self, weights: tuple[float, float, float], rng: random.Random) -> str | None:
        """A present user, tier chosen by weight x present count, then uniform within the tier."""
        masses = [w * len(tier) for w, tier in zip(weights, self._present, strict=True)]
        total = sum(masses)
        if total <= 0:
            return None
        roll = rng.random() * total
        for mass, tier in zip(masses, self._present, strict=True):
            if roll < mass:
                return tier.choice(rng)
            roll -= mass
        return next(tier for tier in reversed(self._present) if tier).choice(rng)

    def pick_excluding(self, excluded: set[str], rng: random.Random) -> str | None:
        """A uniformly chosen present user not in `excluded` (e.g. who already voted)."""
        present = self.present_count
        if present == 0:
            return None
        if len(excluded) < present // 2:
            for _ in range(32):
                user = self.random_present(rng)
                if user is not None and user not in excluded:
                    return user
        rest = [u for tier in self._present for u in tier.items() if u not in excluded]
        return rest[int(rng.random() * len(rest))] if rest else None


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; normal approximation for large means, where it is indistinguishable."""
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


CHAT_LINES = (
    "Great point!",
    "Can you share the slides afterwards?",
    "Hello from Berlin 👋",
    "Is this being recorded?",
    "+1 to that question",
    "How does this scale in production?",
    "Love this example",
    "Could you zoom in a bit?",
    "Thanks, that clears it up",
    "What tool is that on screen?",
    "We hit exactly this problem last quarter",
    "Agreed",
    "Audio is a bit choppy for me",
    "Where can I find the docs?",
    "This is gold 🔥",
    "Any recommendations for beginners?",
    "Does this work on-prem too?",
    "lol",
    "How long did the migration take?",
    "Nice demo!",
    "Can you repeat the last part?",
    "Greetings from São Paulo",
    "Which version is this?",
    "So true",
    "Following up on that",
    "Will there be a Q&A at the end?",
    "Super helpful, thanks!",
    "Interesting trade-off",
)
EMOJI = ("👏", "❤️", "🔥", "😂", "👍", "🎉", "🤯", "💡")
EMOJI_WEIGHTS = (30, 18, 15, 10, 14, 6, 4, 3)
POLL_BANK = (
    ("How familiar are you with today's topic?", ("New to it", "Some experience", "Expert")),
    ("Which part should we dig into next?", ("Architecture", "Live demo", "Pricing", "Q&A")),
    ("How is the pace so far?", ("Too slow", "Just right", "Too fast")),
    ("Where are you joining from?", ("Europe", "Americas", "Asia-Pacific", "Africa")),
    ("Would you try this at work?", ("Yes, this month", "Maybe later", "Not for us")),
    ("What's your biggest blocker?", ("Time", "Budget", "Skills", "Tooling")),
)
