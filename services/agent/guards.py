"""The guards every intervention passes before it reaches an audience.

Rate limits per session (1 per 30 s, 10 per 5 min), the event's hourly cap, a cooldown per type
(design §6), and the event's allowed types. Pure: the caller counts what was executed (from the
database, so every server sees the same history) and gets a reason in plain words, or None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.core.vocabulary import InterventionType
from services.storage.interventions import ExecutionHistory

SESSION_SHORT_SECONDS = 30.0
SESSION_BURST_SECONDS = 300.0
SESSION_BURST_LIMIT = 10


def _default_cooldowns() -> dict[InterventionType, float]:
    return {
        InterventionType.POLL: 120.0,
        InterventionType.CHAT_PROMPT: 60.0,
        InterventionType.NOTIFICATION: 300.0,
        InterventionType.GAMIFICATION: 180.0,
    }


@dataclass(frozen=True, slots=True)
class GuardLimits:
    session_short_seconds: float = SESSION_SHORT_SECONDS
    session_burst_seconds: float = SESSION_BURST_SECONDS
    session_burst_limit: int = SESSION_BURST_LIMIT
    cooldowns: Mapping[InterventionType, float] = field(default_factory=_default_cooldowns)

    @property
    def longest_seconds(self) -> float:
        """How far back the guards look: the longest of their windows."""
        return max([self.session_burst_seconds, *self.cooldowns.values()])


def refusal(
    history: ExecutionHistory,
    arm: InterventionType,
    allowed: tuple[InterventionType, ...],
    hourly_cap: int,
    now: datetime,
    limits: GuardLimits,
) -> str | None:
    """Why `arm` may not run in this session now, or None if every guard passes."""
    if arm not in allowed:
        return f"{arm} is not among the event's allowed types ({', '.join(allowed) or 'none'})"
    if history.session_last is not None:
        wait = limits.session_short_seconds - (now - history.session_last).total_seconds()
        if wait > 0:
            # Rounded up: a refusal that says "next possible in 0 s" contradicts itself.
            return (
                f"rate limit: one intervention per {limits.session_short_seconds:g} s in a "
                f"session; next possible in {math.ceil(wait)} s"
            )
    if history.session_recent >= limits.session_burst_limit:
        return (
            f"rate limit: {limits.session_burst_limit} interventions per "
            f"{limits.session_burst_seconds / 60:g} min in a session reached"
        )
    if history.event_hour >= hourly_cap:
        return f"the event's hourly cap of {hourly_cap} interventions is reached"
    last = history.type_last.get(arm)
    cooldown = limits.cooldowns.get(arm, 0.0)
    if last is not None and now - last < timedelta(seconds=cooldown):
        wait = cooldown - (now - last).total_seconds()
        return f"{arm} cooldown: {cooldown:g} s between two in a session; {math.ceil(wait)} s left"
    return None
