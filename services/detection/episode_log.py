"""Anomaly episodes as the rest of the system sees them: rows, contract messages, browser pushes.

The detector speaks in transitions (started, escalated, ended) with ids of its own; this keeps
each open episode's whole row so every transition can upsert the full state and push it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.core.push import AnomalyMessage, AnomalyPhase
from services.core.push_objects import TRIGGER_KEY, Episode, Trigger
from services.detection.detector import AnomalyEnded, AnomalyEscalated, AnomalyStarted, Transition

_SEVERITY_RANK = {"WARNING": 1, "CRITICAL": 2}
_PHASE_OF = {AnomalyStarted: AnomalyPhase.STARTED, AnomalyEscalated: AnomalyPhase.ESCALATED}


def episode_id(started: AnomalyStarted) -> str:
    """Unique across collector restarts (unlike the detector's per-process counter) and short
    whatever the session id's length (up to 255 characters, as is the column)."""
    digest = hashlib.blake2b(started.session_id.encode(), digest_size=10).hexdigest()
    return f"{digest}-{started.type.lower()}-{int(started.at * 1000)}"


@dataclass(slots=True)
class EpisodeOutput:
    rows: list[dict[str, Any]] = field(default_factory=list)  # anomalies upserts
    detected: list[dict[str, Any]] = field(default_factory=list)  # anomaly:detected payloads
    pushes: list[tuple[str, AnomalyMessage]] = field(default_factory=list)  # (session, message)
    opened: list[dict[str, Any]] = field(default_factory=list)  # rows of episodes begun this tick
    # Rows of episodes that became CRITICAL this tick after opening less severe.
    escalated: list[dict[str, Any]] = field(default_factory=list)


class EpisodeLog:
    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}  # detector's episode id -> row

    def record(
        self,
        transitions: list[Transition],
        event_id: str | None,
        signals: dict[str, float | int],
        out: EpisodeOutput,
    ) -> None:
        for transition in transitions:
            before = self._open.get(transition.episode_id, {}).get("severity")
            row = self._apply(transition, event_id, signals)
            if row is None:
                continue
            if isinstance(transition, AnomalyEscalated) and row["severity"] != before:
                out.escalated.append(dict(row))
            out.rows.append(dict(row))
            phase = _PHASE_OF.get(type(transition), AnomalyPhase.ENDED)
            out.pushes.append(
                (row["session_id"], AnomalyMessage(phase=phase, episode=Episode.from_row(row)))
            )
            if isinstance(transition, AnomalyStarted):
                out.detected.append(_detected_message(row))
                out.opened.append(dict(row))

    def open_rows(self, session_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The open episodes of these sessions, by the detector's episode id (for a handover)."""
        return {k: dict(row) for k, row in self._open.items() if row["session_id"] in session_ids}

    def adopt(self, rows: dict[str, dict[str, Any]]) -> None:
        """Continue episodes another owner opened, as `open_rows` gave them."""
        self._open.update(rows)

    def forget(self, session_ids: set[str]) -> None:
        """Stop following these sessions' episodes without ending them: another owner goes on."""
        for key in [k for k, row in self._open.items() if row["session_id"] in session_ids]:
            del self._open[key]

    def end_session(self, session_id: str, at: datetime, out: EpisodeOutput) -> None:
        """The session ended with episodes still open: they end with it, unrecovered."""
        for key in [k for k, row in self._open.items() if row["session_id"] == session_id]:
            row = self._open.pop(key)
            row.update(ended_at=at, recovered=False, recovery_seconds=None)
            out.rows.append(dict(row))
            out.pushes.append(
                (
                    session_id,
                    AnomalyMessage(phase=AnomalyPhase.ENDED, episode=Episode.from_row(row)),
                )
            )

    def _apply(
        self, transition: Transition, event_id: str | None, signals: dict[str, float | int]
    ) -> dict[str, Any] | None:
        if isinstance(transition, AnomalyStarted):
            started = datetime.fromtimestamp(transition.at, UTC)
            row = {
                "time": started,
                "episode_id": episode_id(transition),
                "session_id": transition.session_id,
                "event_id": event_id,
                "type": str(transition.type),
                "severity": str(transition.severity),
                "anomaly_score": transition.anomaly_score,
                "current_engagement": transition.current_engagement,
                "expected_engagement": transition.expected_engagement,
                "deviation": transition.deviation,
                "signals": _with_trigger(signals, transition.trigger),
                "explanation": transition.explanation[:1000],
                "ended_at": None,
                "recovered": None,
                "recovery_seconds": None,
            }
            self._open[transition.episode_id] = row
            return row
        row = self._open.get(transition.episode_id)
        if row is None:  # began before this collector led: nothing of it is ours to update
            return None
        if isinstance(transition, AnomalyEscalated):
            if _SEVERITY_RANK[str(transition.severity)] > _SEVERITY_RANK[row["severity"]]:
                row["severity"] = str(transition.severity)
                # A new dict: rows already handed out share the old one.
                row["signals"] = _with_trigger(row["signals"], transition.trigger)
            row["explanation"] = transition.explanation[:1000]
            return row
        assert isinstance(transition, AnomalyEnded)
        del self._open[transition.episode_id]
        row.update(
            ended_at=datetime.fromtimestamp(transition.at, UTC),
            recovered=transition.recovered,
            recovery_seconds=transition.recovery_seconds,
        )
        return row


def _with_trigger(signals: dict[str, Any], trigger: Trigger | None) -> dict[str, Any]:
    """The row's signals JSON, which also keeps the episode's trigger (see TRIGGER_KEY)."""
    if trigger is None:
        return signals
    return {**signals, TRIGGER_KEY: trigger.as_json()}


def _detected_message(row: dict[str, Any]) -> dict[str, Any]:
    """`anomaly:detected` (design §3): its signals are the contract's, without the trigger."""
    return {
        "sessionId": row["session_id"],
        "eventId": row["event_id"],
        "timestamp": row["time"].isoformat(),
        "type": row["type"],
        "severity": row["severity"],
        "anomalyScore": row["anomaly_score"],
        "currentEngagement": row["current_engagement"],
        "expectedEngagement": row["expected_engagement"],
        "deviation": row["deviation"],
        "signals": {k: v for k, v in row["signals"].items() if k != TRIGGER_KEY},
    }
