"""What the agent has learnt, in a producer's words: "in rooms of 10-49 people after a sudden
drop, chat prompts worked 7 of 9 times (engagement +0.06 on average)".

Read from the coarse contexts (anomaly type and room size) every measured outcome also counts
for (services/agent/posteriors.py): the fine ones are too sparse to say anything in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.agent.thompson import ArmRecord, Records
from services.core.vocabulary import NO_ANOMALY, AnomalyType, InterventionType

_ROOMS = {
    "lt10": "rooms of fewer than 10 people",
    "lt50": "rooms of 10-49 people",
    "ge50": "rooms of 50 people or more",
}
_AFTER = {
    AnomalyType.SUDDEN_DROP.value: "after a sudden drop",
    AnomalyType.GRADUAL_DECLINE.value: "in a gradual decline",
    AnomalyType.MASS_EXIT.value: "after a mass exit",
    AnomalyType.LOW_ENGAGEMENT.value: "while engagement was low",
    NO_ANOMALY: "with no anomaly open",
}
_TYPES = {
    InterventionType.POLL: "polls",
    InterventionType.CHAT_PROMPT: "chat prompts",
    InterventionType.NOTIFICATION: "notifications",
    InterventionType.GAMIFICATION: "challenges",
}


@dataclass(frozen=True, slots=True)
class Lesson:
    anomaly_type: str
    audience: str
    type: InterventionType
    successes: int
    attempts: int
    mean_delta: float  # the average engagement change after it
    measured_here: int  # every type's attempts in this context

    @property
    def words(self) -> str:
        times = "time" if self.attempts == 1 else "times"
        return (
            f"In {_ROOMS[self.audience]} {_AFTER[self.anomaly_type]}, {_TYPES[self.type]} "
            f"worked {self.successes} of {self.attempts} {times} "
            f"(engagement {self.mean_delta:+.2f} on average)."
        )


def lessons(records: Records, limit: int = 3, min_attempts: int = 3) -> list[Lesson]:
    """Per context with something to say, the type that worked best (the largest average lift,
    the measure the sampler compares, to two decimals; then the better rate, then the more
    tried; among those tried at least `min_attempts` times), told by its rate and average
    change; the contexts measured most first."""
    by_context: dict[tuple[str, str], dict[InterventionType, ArmRecord]] = {}
    for (key, arm), record in records.items():
        parts = key.split("|")
        if len(parts) != 4:
            continue
        anomaly, engagement, audience, deviation = parts
        if (engagement, deviation) != ("*", "*") or audience not in _ROOMS:
            continue  # a fine context, or the anomaly type alone
        if anomaly not in _AFTER or arm not in _TYPES:
            continue
        by_context.setdefault((anomaly, audience), {})[arm] = record
    found = []
    for (anomaly, audience), arms in by_context.items():
        measured = round(sum(r.attempts for r in arms.values()))
        tried = [
            (arm, round(r.successes), round(r.attempts), r.delta_sum / r.attempts, r.lift_sum)
            for arm, r in arms.items()
            if r.attempts >= min_attempts
        ]
        if not tried:
            continue
        arm, successes, attempts, change, _ = max(
            tried, key=lambda t: (round(t[4] / t[2], 2), t[1] / t[2], t[2])
        )
        found.append(Lesson(anomaly, audience, arm, successes, attempts, change, measured))
    found.sort(key=lambda lesson: (-lesson.measured_here, lesson.anomaly_type, lesson.audience))
    return found[:limit]
