"""The event overview's data: each live session at a glance (recent scores, open anomalies, the
agent's mode), ordered by who needs attention, and the CRITICAL episodes producers are alerted to.
Bounded: only the sessions given (the live ones, at most the catalogue's page of 500)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.storage.agent_settings import AgentSettingsStore
from services.storage.metrics_store import EventSummary, SessionRecord
from services.storage.schema import anomalies, engagement_metrics, session_agent_modes, sessions

TREND_MINUTES = 5


@dataclass(frozen=True, slots=True)
class OpenEpisode:
    episode_id: str
    type: str
    severity: str
    started: datetime


@dataclass(frozen=True, slots=True)
class SessionGlance:
    record: SessionRecord
    trend: tuple[float, ...]
    open_episodes: tuple[OpenEpisode, ...] = field(default=())
    mode: str = "MANUAL"

    @property
    def attention(self) -> tuple[int, float, str]:
        """Sort key: open CRITICAL first, then WARNING, then the lowest score."""
        severities = {episode.severity for episode in self.open_episodes}
        rank = 0 if "CRITICAL" in severities else 1 if severities else 2
        last = self.record.last_score
        score = last if last is not None and math.isfinite(last) else 1.0
        return rank, score, self.record.session_id


def events_by_attention(
    events: Sequence[EventSummary], glances: Sequence[SessionGlance]
) -> list[str | None]:
    """Event ids, the one whose neediest live session needs attention most first (its worst
    open anomaly, then its lowest score); events with no live session last, as given. `None`
    stands for the sessions without an event, placed by the same rule."""
    worst: dict[str | None, tuple[int, float, str]] = {}
    for glance in glances:
        event_id = glance.record.event_id
        key = glance.attention
        if event_id not in worst or key < worst[event_id]:
            worst[event_id] = key
    known = [event.event_id for event in events]
    live = sorted(worst, key=lambda event_id: (worst[event_id], event_id or ""))
    return [*live, *(event_id for event_id in known if event_id not in worst)]


class OverviewQueries:
    def __init__(self, settings: AgentSettingsStore) -> None:
        self.settings = settings
        self.engine: Engine = settings.engine

    def glance(self, records: Sequence[SessionRecord], now: datetime) -> list[SessionGlance]:
        ids = [record.session_id for record in records]
        if not ids:
            return []
        m = engagement_metrics.c
        trends: dict[str, list[float]] = {sid: [] for sid in ids}
        episodes: dict[str, list[OpenEpisode]] = {sid: [] for sid in ids}
        with self.engine.connect() as conn:
            for sid, score in conn.execute(
                sa.select(m.session_id, m.engagement_score)
                .where(m.session_id.in_(ids), m.time >= now - timedelta(minutes=TREND_MINUTES))
                .order_by(m.session_id, m.time)
            ):
                trends[sid].append(score)
            a = anomalies.c
            for row in conn.execute(
                sa.select(a.session_id, a.episode_id, a.type, a.severity, a.time).where(
                    a.session_id.in_(ids), a.ended_at.is_(None)
                )
            ):
                episodes[row.session_id].append(
                    OpenEpisode(row.episode_id, row.type, row.severity, row.time)
                )
            modes = self._modes(conn, records)
        found = [
            SessionGlance(
                record,
                tuple(trends[record.session_id]),
                tuple(episodes[record.session_id]),
                modes[record.session_id],
            )
            for record in records
        ]
        return sorted(found, key=lambda glance: glance.attention)

    def _modes(self, conn: sa.Connection, records: Sequence[SessionRecord]) -> dict[str, str]:
        """The mode in force per session: its own override, else its event's."""
        t = session_agent_modes.c
        overrides = dict(
            conn.execute(
                sa.select(t.session_id, t.mode).where(
                    t.session_id.in_([record.session_id for record in records])
                )
            ).all()
        )
        by_event: dict[str | None, str] = {}
        modes = {}
        for record in records:
            if record.event_id not in by_event:
                by_event[record.event_id] = self.settings.for_event(record.event_id, conn).mode
            modes[record.session_id] = overrides.get(record.session_id) or by_event[record.event_id]
        return modes

    def critical_alerts(self, session_ids: Iterable[str], since: datetime) -> list[dict[str, Any]]:
        """Open CRITICAL episodes of these sessions that started after `since`, newest first."""
        ids = list(session_ids)
        if not ids:
            return []
        a = anomalies.c
        query = (
            sa.select(a.episode_id, a.session_id, a.type, a.time, sessions.c.title)
            .select_from(
                anomalies.outerjoin(sessions, sessions.c.session_id == anomalies.c.session_id)
            )
            .where(
                a.session_id.in_(ids),
                a.ended_at.is_(None),
                a.severity == "CRITICAL",
                a.time >= since,
            )
            .order_by(a.time.desc())
            .limit(20)
        )
        with self.engine.connect() as conn:
            return [
                {
                    "episode_id": row.episode_id,
                    "session_id": row.session_id,
                    "type": row.type,
                    "started": row.time.isoformat(),
                    "session_title": row.title,
                }
                for row in conn.execute(query)
            ]
