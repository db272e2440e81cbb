"""How an executed intervention is judged: stored scores before it against scores after it.

    before  = mean engagement score of the ticks in the `before_seconds` up to execution
    after   = mean score of the ticks in the last `after_seconds` of the measurement delay,
              i.e. in (executed + delay - after_seconds, executed + delay]: by default
              (executed + 30 s, executed + 90 s], once the room has had time to answer
    delta   = after - before
    reward  = clip(delta / full_credit_delta, 0, 1)     (a lift of +0.2 earns full credit)
    success = delta >= success_delta                    (what the Beta posterior learns)

Means over several ticks rather than single ticks, because one 5-s score moves by a few
hundredths on Poisson noise alone; a minute of ticks after rather than half a minute, because
on the learning bench's outcomes it tells the best type from the others more often
(docs/agent.md, "Why the lift"). The posterior learns the binary success so that a Beta
posterior is exact; the graded reward and the delta are recorded beside it for producers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RewardRule:
    delay_seconds: float = 90.0
    before_seconds: float = 30.0
    after_seconds: float = 60.0
    success_delta: float = 0.03
    full_credit_delta: float = 0.2

    def __post_init__(self) -> None:
        if not (self.delay_seconds > 0 and self.before_seconds > 0 and self.after_seconds > 0):
            raise ValueError("reward windows must be positive")
        if self.after_seconds > self.delay_seconds:
            raise ValueError("the after-window must fit inside the measurement delay")
        if self.full_credit_delta <= 0:
            raise ValueError("full_credit_delta must be positive")

    @classmethod
    def for_delay(cls, delay_seconds: float) -> RewardRule:
        """A deployment's measurement delay: the after-window is its last two thirds (the first
        third is the room's time to answer), as the default's 60 s of 90."""
        return cls(delay_seconds=delay_seconds, after_seconds=delay_seconds * 2 / 3)


@dataclass(frozen=True, slots=True)
class RewardOutcome:
    before: float
    after: float
    delta: float
    reward: float
    success: bool

    def as_json(self) -> dict[str, float | bool]:
        return {
            "engagement_before": round(self.before, 4),
            "engagement_after": round(self.after, 4),
            "delta": round(self.delta, 4),
            "reward": round(self.reward, 4),
            "success": self.success,
        }


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def judge(
    before_scores: Sequence[float], after_scores: Sequence[float], rule: RewardRule
) -> RewardOutcome | None:
    """The outcome, or None when either window holds no usable score (nothing to judge by)."""
    before, after = _mean(before_scores), _mean(after_scores)
    if before is None or after is None:
        return None
    delta = after - before
    reward = min(1.0, max(0.0, delta / rule.full_credit_delta))
    return RewardOutcome(before, after, delta, reward, delta >= rule.success_delta)
