"""Reads and batch writes of score rows and the session catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from services.core.push_objects import episode_json
from services.storage.pg_copy import copy_upsert
from services.storage.schema import anomalies, engagement_metrics, sessions
from services.storage.session_stats import reset_late

# How many of a session's episodes its anomaly list shows.
LISTED_EPISODES = 50
LIVE = "live"
ENDED = "ended"


class EventSummary(NamedTuple):
    """An event with sessions: how many are live, and the title the platform gave it."""

    event_id: str
    live: int
    title: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    event_id: str | None
    status: str
    first_seen: datetime
    last_seen: datetime
    last_score: float | None
    present_users: int | None
    title: str | None = None
    event_title: str | None = None


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """A stored anomaly episode, as pushes and backfills carry it."""

    episode: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return self.episode


@dataclass(frozen=True, slots=True)
class ChartPoint:
    time: datetime
    score: float
    signals: dict[str, float | int]

    def as_json(self) -> dict[str, Any]:
        return {"timestamp": self.time.isoformat(), "score": self.score, "signals": self.signals}


_METRIC_VALUES = (
    "event_id",
    "engagement_score",
    "chat_msgs_per_min",
    "poll_participation",
    "active_users",
    "reactions_per_min",
    "user_leave_rate",
    "extra",
)


_SESSION_VALUES = (
    "event_id",
    "title",
    "event_title",
    "last_seen",
    "ended_at",
    "status",
    "last_score",
    "present_users",
)
# A catalogue row that does not know these (an ending session has no score, most events no
# title) keeps the old ones.
_SESSION_KEEP_KNOWN = frozenset({"event_id", "title", "event_title", "last_score"})


_EPISODE_VALUES = tuple(
    c.name for c in anomalies.columns if c.name not in {"episode_id", "time", "session_id"}
)


class MetricsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write_batch(
        self,
        metric_rows: Sequence[dict[str, Any]],
        session_rows: Sequence[dict[str, Any]],
        episode_rows: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Upsert a tick's rows in one transaction; re-writing the same tick replaces it.

        Episode rows carry an anomaly episode's whole state and replace what was stored.
        """
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                self._copy_batch(conn, metric_rows, session_rows)
            else:
                self._sqlite_batch(conn, metric_rows, session_rows)
            reset_late(conn, metric_rows, datetime.now(UTC))
            if episode_rows:
                insert = (
                    postgresql.insert(anomalies)
                    if self.engine.dialect.name == "postgresql"
                    else sqlite.insert(anomalies)
                )
                stmt = insert.on_conflict_do_update(
                    index_elements=["episode_id", "time"],
                    set_={col: insert.excluded[col] for col in _EPISODE_VALUES},
                )
                conn.execute(stmt, list(episode_rows))

    @staticmethod
    def _copy_batch(
        conn: sa.Connection,
        metric_rows: Sequence[dict[str, Any]],
        session_rows: Sequence[dict[str, Any]],
    ) -> None:
        if metric_rows:
            copy_upsert(
                conn,
                engagement_metrics,
                metric_rows,
                ("session_id", "time"),
                {col: f'EXCLUDED."{col}"' for col in _METRIC_VALUES},
            )
        if session_rows:
            copy_upsert(
                conn,
                sessions,
                session_rows,
                ("session_id",),
                {
                    col: f"COALESCE(EXCLUDED.{col}, sessions.{col})"
                    if col in _SESSION_KEEP_KNOWN
                    else f"EXCLUDED.{col}"
                    for col in _SESSION_VALUES
                },
            )

    @staticmethod
    def _sqlite_batch(
        conn: sa.Connection,
        metric_rows: Sequence[dict[str, Any]],
        session_rows: Sequence[dict[str, Any]],
    ) -> None:
        if metric_rows:
            stmt = sqlite.insert(engagement_metrics)
            stmt = stmt.on_conflict_do_update(
                index_elements=["session_id", "time"],
                set_={col: stmt.excluded[col] for col in _METRIC_VALUES},
            )
            conn.execute(stmt, list(metric_rows))
        if session_rows:
            stmt = sqlite.insert(sessions)
            stmt = stmt.on_conflict_do_update(
                index_elements=["session_id"],
                set_={
                    col: sa.func.coalesce(stmt.excluded[col], sessions.c[col])
                    if col in _SESSION_KEEP_KNOWN
                    else stmt.excluded[col]
                    for col in _SESSION_VALUES
                },
            )
            conn.execute(stmt, list(session_rows))

    def recent_points(self, session_id: str, limit: int) -> list[ChartPoint]:
        """The newest `limit` points of a session, oldest first."""
        m = engagement_metrics
        query = (
            sa.select(
                m.c.time,
                m.c.engagement_score,
                m.c.chat_msgs_per_min,
                m.c.poll_participation,
                m.c.active_users,
                m.c.reactions_per_min,
                m.c.user_leave_rate,
                m.c.extra,
            )
            .where(m.c.session_id == session_id)
            .order_by(m.c.time.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        points = []
        for row in reversed(rows):
            extra = row.extra or {}
            points.append(
                ChartPoint(
                    time=row.time,
                    score=row.engagement_score,
                    signals={
                        "chat_msgs_per_min": row.chat_msgs_per_min,
                        "poll_participation": row.poll_participation,
                        "active_users": row.active_users,
                        "total_users": extra.get("total_users", 0),
                        "poll_active": extra.get("poll_active"),
                        "reactions_per_min": row.reactions_per_min,
                        "user_leave_rate": row.user_leave_rate,
                    },
                )
            )
        return points

    def recent_anomalies(
        self, session_id: str, since: datetime | None = None, limit: int = 50
    ) -> list[AnomalyRecord]:
        """The session's newest episodes first; with `since`, only those still open or ended
        after it."""
        a = anomalies
        query = sa.select(a).where(a.c.session_id == session_id)
        if since is not None:
            query = query.where(sa.or_(a.c.ended_at.is_(None), a.c.ended_at >= since))
        query = query.order_by(a.c.time.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [AnomalyRecord(episode_json(row)) for row in conn.execute(query)]

    def session_episodes(self, session_id: str) -> list[dict[str, Any]]:
        """EPISODE objects, newest first: the session's episodes, whether or not the chart's
        window still shows them (the chart bands only those it does)."""
        return [r.as_json() for r in self.recent_anomalies(session_id, limit=LISTED_EPISODES)]

    def end_abandoned_sessions(self, last_seen_before: datetime) -> int:
        """Mark 'live' sessions nobody has ticked since `last_seen_before` as ended.

        A live session is re-marked at every tick, so only abandoned ones are this old; one
        whose rows were held back by an outage turns live again when they are written. Their
        episodes still open end with them, unrecovered: the last collector to score them
        stopped, and its successor (if any) never took them up.
        """
        abandoned = (
            sa.select(sessions.c.session_id)
            .where(sessions.c.status == LIVE)
            .where(sessions.c.last_seen < last_seen_before)
        )
        last_seen = (
            sa.select(sessions.c.last_seen)
            .where(sessions.c.session_id == anomalies.c.session_id)
            .scalar_subquery()
        )
        end_episodes = (
            sa.update(anomalies)
            .where(anomalies.c.ended_at.is_(None))
            .where(anomalies.c.session_id.in_(abandoned))
            .values(ended_at=last_seen, recovered=False)
        )
        query = (
            sa.update(sessions)
            .where(sessions.c.status == LIVE)
            .where(sessions.c.last_seen < last_seen_before)
            .values(status=ENDED, ended_at=sessions.c.last_seen)
        )
        with self.engine.begin() as conn:
            conn.execute(end_episodes)
            return conn.execute(query).rowcount

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions).where(sessions.c.session_id == session_id)
            ).first()
        return _session_record(row) if row else None

    def list_sessions(
        self, event_id: str | None = None, status: str | None = LIVE, limit: int = 500
    ) -> list[SessionRecord]:
        query = sa.select(sessions).order_by(sessions.c.last_seen.desc()).limit(limit)
        if event_id is not None:
            query = query.where(sessions.c.event_id == event_id)
        if status is not None:
            query = query.where(sessions.c.status == status)
        with self.engine.connect() as conn:
            return [_session_record(row) for row in conn.execute(query)]

    def list_events(self, limit: int = 500) -> list[EventSummary]:
        """Events that have sessions, with how many of them are live, busiest first."""
        live = sa.func.sum(sa.case((sessions.c.status == LIVE, 1), else_=0))
        # Any session's copy of the title: the platform sends one per event.
        title = sa.func.max(sessions.c.event_title)
        query = (
            sa.select(sessions.c.event_id, live.label("live"), title.label("title"))
            .where(sessions.c.event_id.is_not(None))
            .group_by(sessions.c.event_id)
            .order_by(live.desc(), sessions.c.event_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                EventSummary(row.event_id, int(row.live or 0), row.title)
                for row in conn.execute(query)
            ]


def _session_record(row: sa.Row[Any]) -> SessionRecord:
    return SessionRecord(
        session_id=row.session_id,
        event_id=row.event_id,
        status=row.status,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        last_score=row.last_score,
        present_users=row.present_users,
        title=row.title,
        event_title=row.event_title,
    )
