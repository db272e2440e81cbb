"""The names every domain shares: anomaly types and severities, the agent's arms, modes,
statuses and contexts.

Plain data, shared by the detector, the sampler, the content library, the desk, storage's
queries, the simulator's audiences and the web tier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class AnomalyType(StrEnum):
    SUDDEN_DROP = "SUDDEN_DROP"
    GRADUAL_DECLINE = "GRADUAL_DECLINE"
    MASS_EXIT = "MASS_EXIT"
    LOW_ENGAGEMENT = "LOW_ENGAGEMENT"


class Severity(StrEnum):
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class InterventionType(StrEnum):
    POLL = "POLL"
    CHAT_PROMPT = "CHAT_PROMPT"
    NOTIFICATION = "NOTIFICATION"
    GAMIFICATION = "GAMIFICATION"


INTERVENTION_TYPES: tuple[InterventionType, ...] = tuple(InterventionType)


class AgentMode(StrEnum):
    OFF = "OFF"  # no suggestions at all
    MANUAL = "MANUAL"  # suggest; a person approves
    SEMI_AUTO = "SEMI_AUTO"  # execute when confident enough, otherwise ask
    AUTO = "AUTO"  # execute whatever passes the guards


class InterventionStatus(StrEnum):
    PENDING = "pending"  # waiting for a person
    REFUSED = "refused"  # a guard said no; the reason is in `note`
    DISMISSED = "dismissed"
    EXPIRED = "expired"
    APPROVED = "approved"  # being sent
    EXECUTED = "executed"  # sent to the platform
    FAILED = "failed"  # could not be sent, or the platform reported failure
    MEASURED = "measured"  # the outcome is known and learnt from
    UNMEASURED = "unmeasured"  # executed, but no scores to judge it by (session ended)


# Context buckets (design §6): engagement level, audience size, deviation from expected.
# The anomaly part of the context of a launch made while no anomaly is open.
NO_ANOMALY = "NONE"
ENGAGEMENT_BUCKETS = ((0.2, "very-low"), (0.4, "low"), (1.01, "moderate+"))
AUDIENCE_BUCKETS = ((10, "lt10"), (50, "lt50"), (None, "ge50"))
DEVIATION_BUCKETS = ((0.10, "dev<10%"), (0.25, "dev<25%"), (None, "dev>=25%"))


@dataclass(frozen=True, slots=True)
class AgentContext:
    """Where a decision is made; its `key` names one set of Beta posteriors."""

    anomaly_type: str
    engagement: str
    audience: str
    deviation: str

    @classmethod
    def of(
        cls, anomaly_type: str, engagement: float, audience: int, deviation: float
    ) -> AgentContext:
        """Bucket raw values; `deviation` is (current - expected) / expected, any sign.
        Non-finite values (a detector's NaN) fall in the lowest bucket rather than failing."""
        engagement = engagement if math.isfinite(engagement) else 0.0
        deviation = deviation if math.isfinite(deviation) else 0.0
        level = next(name for bound, name in ENGAGEMENT_BUCKETS if engagement < bound)
        size = next(name for bound, name in AUDIENCE_BUCKETS if bound is None or audience < bound)
        shortfall = abs(deviation)
        dev = next(name for bound, name in DEVIATION_BUCKETS if bound is None or shortfall < bound)
        return cls(anomaly_type, level, size, dev)

    @property
    def key(self) -> str:
        return f"{self.anomaly_type}|{self.engagement}|{self.audience}|{self.deviation}"

    @property
    def parent_key(self) -> str:
        """The coarser context whose record a sparse fine context borrows from."""
        return f"{self.anomaly_type}|*|{self.audience}|*"

    @property
    def grandparent_key(self) -> str:
        """The anomaly type alone: what the parent borrows from."""
        return f"{self.anomaly_type}|*|*|*"

    @classmethod
    def from_key(cls, key: str) -> AgentContext:
        parts = key.split("|")
        if len(parts) != 4:
            raise ValueError(f"not a context key: {key!r}")
        return cls(*parts)

    def describe(self) -> str:
        """The context in a producer's words (the buckets' names are for the key)."""
        anomaly = self.anomaly_type.replace("_", " ").lower()
        parts = [
            "no anomaly open" if self.anomaly_type == NO_ANOMALY else anomaly,
            _CONTEXT_WORDS.get(self.engagement, f"engagement {self.engagement}"),
            _CONTEXT_WORDS.get(self.audience, f"audience {self.audience}"),
            _CONTEXT_WORDS.get(self.deviation, self.deviation),
        ]
        return ", ".join(parts)


_CONTEXT_WORDS = {
    "very-low": "engagement under 0.20",
    "low": "engagement 0.20-0.40",
    "moderate+": "engagement 0.40 or more",
    "lt10": "fewer than 10 people present",
    "lt50": "10-49 people present",
    "ge50": "50 or more people present",
    "dev<10%": "score within 10 % of what was expected",
    "dev<25%": "score 10-25 % off what was expected",
    "dev>=25%": "score 25 % or more off what was expected",
}
