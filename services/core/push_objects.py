"""The objects push messages carry (services/core/push.py): a tick's signals, a chart point, an
anomaly episode with its trigger, an intervention, and the chart's mark of an intervention. Their
field names are the wire's own; docs/push-protocol.md describes them for the page."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

# A time on the wire: ISO 8601 text, as datetime.isoformat() writes it and Date.parse reads it.
IsoTime = Annotated[str, "an ISO 8601 time"]


@dataclass(frozen=True)
class TickSignals:
    """The signals of `engagement:update` (design §3), plus whether a poll is running."""

    chat_msgs_per_min: float
    poll_participation: float
    active_users: int
    total_users: int
    reactions_per_min: float
    user_leave_rate: float
    poll_active: bool | None  # None on points stored before it was recorded


@dataclass(frozen=True)
class BackfillPoint:
    """One stored point of the chart's window."""

    timestamp: IsoTime  # the tick boundary
    score: float
    signals: TickSignals


class TriggerRule(StrEnum):
    """Which of the detector's alarms set an episode's severity: what its headline measures."""

    ACTIVITY = "activity"  # chat + reactions fell below the room's usual level
    EXIT = "exit"  # people left the room
    SCORE = "score"  # the engagement score held under its absolute floor
    ATTENTION = "attention"  # viewers looked away (the attention signal, design §2)


@dataclass(frozen=True)
class Trigger:
    """The numbers of the alarm that opened an episode, or escalated it: what the page's
    headline says, so it always agrees with the severity beside it."""

    rule: str  # a TriggerRule; the page words a rule it does not know as it words old episodes
    # activity: usual chat + reactions a minute; exit: people present before; score: the floor;
    # attention: the usual share of viewers looking
    reference: float
    # activity: chat + reactions a minute now; exit: people present after; score: the score;
    # attention: the share looking now
    value: float
    seconds: float | None  # exit: within how long; score: how long it has held; activity: None

    def as_json(self) -> dict[str, Any]:
        # Plain data, rule included: the collector's checkpoints pickle the open rows that keep
        # it, and load only builtins and the state's own classes back.
        return {**vars(self), "rule": str(self.rule)}


# An anomalies row keeps its episode's trigger in its `signals` JSON under this key, which
# spares the table a column (the contract's `anomaly:detected` leaves it out).
TRIGGER_KEY = "trigger"


@dataclass(frozen=True)
class Episode:
    """The EPISODE object: one anomaly episode's whole state, in pushes, backfills and the API."""

    episodeId: str
    sessionId: str
    eventId: str | None
    type: str  # an AnomalyType; the page labels types it does not know from their name
    severity: str  # the highest reached: WARNING or CRITICAL
    startedAt: IsoTime
    endedAt: IsoTime | None  # None while open
    recovered: bool | None  # None while open
    recoverySeconds: float | None
    anomalyScore: float
    currentEngagement: float
    expectedEngagement: float
    deviation: float
    explanation: str
    # None on episodes stored before it was recorded; optional on the wire for the same reason.
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        # An EPISODE dict (as_json, the API's) builds the record back, its trigger an object.
        if isinstance(self.trigger, dict):
            object.__setattr__(self, "trigger", Trigger(**self.trigger))

    @classmethod
    def from_row(cls, row: Any) -> Episode:
        """From an anomalies row: the collector's mapping or a SQLAlchemy Row."""
        get = row.get if isinstance(row, dict) else lambda key: getattr(row, key)
        ended = get("ended_at")
        trigger = (get("signals") or {}).get(TRIGGER_KEY)
        return cls(
            episodeId=get("episode_id"),
            sessionId=get("session_id"),
            eventId=get("event_id"),
            type=get("type"),
            severity=get("severity"),
            startedAt=get("time").isoformat(),
            endedAt=ended.isoformat() if ended is not None else None,
            recovered=get("recovered"),
            recoverySeconds=get("recovery_seconds"),
            anomalyScore=get("anomaly_score"),
            currentEngagement=get("current_engagement"),
            expectedEngagement=get("expected_engagement"),
            deviation=get("deviation"),
            explanation=get("explanation"),
            trigger=Trigger(**trigger) if trigger else None,
        )

    def as_json(self) -> dict[str, Any]:
        data = dict(vars(self))
        if self.trigger is not None:
            data["trigger"] = self.trigger.as_json()
        return data


def episode_json(row: Any) -> dict[str, Any]:
    """The EPISODE object of an anomalies row, as a dict (for the API and the first render)."""
    return Episode.from_row(row).as_json()


@dataclass(frozen=True)
class Intervention:
    """The intervention object: one intervention's whole row."""

    intervention_id: str
    time: IsoTime  # when it was suggested or launched
    session_id: str
    event_id: str | None
    type: str  # an InterventionType
    status: str  # an InterventionStatus
    confidence: float | None
    content: dict[str, Any]
    outcome: dict[str, Any] | None
    episode_id: str | None
    anomaly_type: str | None
    context: str | None
    mode: str | None
    reasoning: str | None
    preview: str | None
    approved_by: str | None
    note: str | None
    expires_at: IsoTime | None
    decided_at: IsoTime | None
    executed_at: IsoTime | None
    measured_at: IsoTime | None
    # "template", or the model that wrote the content; None before schema 6.
    written_by: str | None = None
    # The writing's model, tokens, latency_ms, fallback reason (services/agent/model_writer.py).
    writing: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Any) -> Intervention:
        """From an interventions row or anything with its attributes (an InterventionRecord)."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        return cls(
            **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
        )

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


# What the chart marks: interventions that reached (or were sent to) the audience. Suggestions
# that were dismissed, expired or refused never did.
LAUNCHED_STATUSES = frozenset({"approved", "executed", "failed", "measured", "unmeasured"})


@dataclass(frozen=True)
class ChartMark:
    """An intervention as the live chart marks it: what went out, when, and how it went."""

    interventionId: str
    time: IsoTime  # when it went out (executed_at), else when it was decided or suggested
    type: str  # an InterventionType
    status: str  # an InterventionStatus, one of LAUNCHED_STATUSES
    delta: float | None  # the measured change of the score; None until measured
    success: bool | None  # whether the measurement counts it as working; None until measured

    @classmethod
    def of(cls, intervention: Intervention) -> ChartMark | None:
        """The mark of `intervention`, or None if it never went out."""
        if intervention.status not in LAUNCHED_STATUSES:
            return None
        outcome = intervention.outcome or {}
        delta = outcome.get("delta")
        success = outcome.get("success")
        return cls(
            interventionId=intervention.intervention_id,
            time=intervention.executed_at or intervention.decided_at or intervention.time,
            type=intervention.type,
            status=intervention.status,
            delta=float(delta) if isinstance(delta, int | float) else None,
            success=success if isinstance(success, bool) else None,
        )
