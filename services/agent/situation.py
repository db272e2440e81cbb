"""The session as the agent sees it when a producer launches an intervention by hand, read from
the stores (the collector builds the same from its live windows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.agent.desk import SessionContext
from services.storage.metrics_store import MetricsStore, SessionRecord


@dataclass(frozen=True, slots=True)
class Situation:
    session: SessionContext
    anomaly_type: str | None  # the newest open anomaly's, None when none is open
    deviation: float  # that anomaly's, 0 when none is open


def current_situation(metrics: MetricsStore, record: SessionRecord, now: datetime) -> Situation:
    """The newest score and signals of `record`'s session, and its newest open anomaly."""
    session_id = record.session_id
    points = metrics.recent_points(session_id, 1)
    signals = points[-1].signals if points else {}
    open_episodes = [
        episode.as_json()
        for episode in metrics.recent_anomalies(session_id, since=now, limit=5)
        if episode.as_json().get("endedAt") is None
    ]
    session = SessionContext(
        session_id=session_id,
        event_id=record.event_id,
        engagement=points[-1].score if points else (record.last_score or 0.0),
        present_users=int(signals.get("total_users", record.present_users or 0)),
        chat_per_min=float(signals.get("chat_msgs_per_min", 0.0)),
    )
    if not open_episodes:
        return Situation(session, None, 0.0)
    newest = open_episodes[0]
    return Situation(session, newest["type"], float(newest.get("deviation") or 0.0))
