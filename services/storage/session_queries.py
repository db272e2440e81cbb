"""Read-only queries for analysts and the JSON API: sessions with filters (paginated, sorted on a
whitelist), one session's series at a bucket, its anomalies and interventions.

Every query is bounded: pages of at most MAX_PAGE_SIZE sessions, series of at most MAX_POINTS
points (a finer bucket over a longer range is refused, not truncated), lists of at most
MAX_ITEMS rows. Requests are validated first (services/storage/analyst_requests.py).

Filters and sorting on scores use each session's settled figures (services/storage/session_stats.py:
every score row older than two minutes); the figures shown are those plus the newest rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.core.push_objects import episode_json
from services.storage.analyst_requests import MAX_ITEMS, SeriesRequest, SessionFilter
from services.storage.interventions import InterventionRecord
from services.storage.schema import agent_performance, anomalies, interventions, sessions
from services.storage.score_series import ScoreSeries
from services.storage.session_stats import SessionFigures, unsettled_tail

_EPSILON = 1e-9


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (its wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SessionQueries:
    def __init__(self, engine: Engine, tick_seconds: float = 5.0, aggregates: bool = False) -> None:
        """`aggregates`: read buckets from TimescaleDB's continuous aggregates."""
        self.engine = engine
        self.tick_seconds = tick_seconds
        self._series = ScoreSeries(engine, aggregates)

    def sessions(self, flt: SessionFilter) -> dict[str, Any]:
        """One page of the catalogue with per-session figures, and the total that matched."""
        where = self._where(flt)
        column = self._sort_column(flt)
        ordering = column.desc() if flt.order == "desc" else column.asc()
        page = (
            sa.select(sessions)
            .where(*where)
            .order_by(ordering.nulls_last(), sessions.c.session_id)
            .limit(flt.page_size)
            .offset((flt.page - 1) * flt.page_size)
        )
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(sessions).where(*where))
            rows = conn.execute(page).all()
            figures = self._figures(conn, rows, flt.below_index)
            total_count = int(total.scalar() or 0)
        items = [_session_json(row) | figures[row.session_id] for row in rows]
        return {
            "total": total_count,
            "page": flt.page,
            "page_size": flt.page_size,
            "items": items,
        }

    def _minutes_below(self, index: int) -> sa.ColumnElement[Any]:
        ticks = sessions.c.ticks_below[index].as_integer()
        return ticks * (self.tick_seconds / 60.0)

    def _sort_column(self, flt: SessionFilter) -> sa.ColumnElement[Any]:
        s = sessions.c
        if flt.sort == "avg_score":
            return s.score_sum / sa.func.nullif(s.score_ticks, 0)
        if flt.sort == "min_score":
            return s.score_min
        if flt.sort == "minutes_below":
            return self._minutes_below(flt.below_index)
        return getattr(s, flt.sort)

    def _where(self, flt: SessionFilter) -> list[sa.ColumnElement[bool]]:
        s = sessions.c
        where: list[sa.ColumnElement[bool]] = []
        if flt.events is not None:
            where.append(s.event_id.in_(flt.events))
        if flt.event is not None:
            where.append(s.event_id == flt.event)
        if flt.start is not None:
            where.append(s.last_seen >= flt.start)
        if flt.end is not None:
            where.append(s.first_seen < flt.end)
        if flt.status is not None:
            where.append(s.status == flt.status)
        if flt.q:
            pattern = _like(flt.q.lower())
            where.append(
                sa.or_(
                    sa.func.lower(s.session_id).like(pattern, escape="\\"),
                    sa.func.lower(sa.func.coalesce(s.title, "")).like(pattern, escape="\\"),
                    sa.func.lower(sa.func.coalesce(s.event_title, "")).like(pattern, escape="\\"),
                )
            )
        average = s.score_sum / sa.func.nullif(s.score_ticks, 0)
        # A sum of floats is off in its last bits (0.6 x 60 / 60 is 0.6000000000000002): the
        # bounds are inclusive as the user means them.
        if flt.avg_min is not None:
            where.append(average >= flt.avg_min - _EPSILON)
        if flt.avg_max is not None:
            where.append(average <= flt.avg_max + _EPSILON)
        if flt.lowest_min is not None:
            where.append(s.score_min >= flt.lowest_min)
        if flt.lowest_max is not None:
            where.append(s.score_min <= flt.lowest_max)
        if flt.below_minutes is not None:
            where.append(self._minutes_below(flt.below_index) >= flt.below_minutes - _EPSILON)
        if flt.anomaly:
            a = anomalies.c
            where.append(
                sa.exists().where(
                    a.session_id == s.session_id, a.type.in_([t.value for t in flt.anomaly])
                )
            )
        if flt.intervention:
            t = interventions.c
            where.append(
                sa.exists().where(
                    t.session_id == s.session_id,
                    t.type.in_([kind.value for kind in flt.intervention]),
                    t.executed_at.is_not(None),
                )
            )
        return where

    def _figures(
        self, conn: sa.Connection, rows: list[sa.Row[Any]], below_index: int
    ) -> dict[str, dict[str, Any]]:
        """Average and minimum score, minutes below the threshold, peak audience and counts,
        for one page's sessions: the settled figures plus the rows since."""
        if not rows:
            return {}
        ids = [row.session_id for row in rows]
        tail = unsettled_tail(conn, rows)
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            figures = SessionFigures.from_row(row).plus(
                tail.get(row.session_id, SessionFigures.empty())
            )
            found[row.session_id] = {
                "avg_score": figures.average,
                "min_score": figures.score_min,
                "ticks": figures.ticks,
                "minutes_below": round(
                    figures.ticks_below[below_index] * self.tick_seconds / 60, 2
                ),
                "peak_audience": figures.peak_audience,
                "anomalies": 0,
                "interventions": 0,
                "success_rate": None,
            }
        for sid, n in conn.execute(
            sa.select(anomalies.c.session_id, sa.func.count())
            .where(anomalies.c.session_id.in_(ids))
            .group_by(anomalies.c.session_id)
        ):
            found[sid]["anomalies"] = n
        t = interventions.c
        for sid, n in conn.execute(
            sa.select(t.session_id, sa.func.count())
            .where(t.session_id.in_(ids), t.executed_at.is_not(None))
            .group_by(t.session_id)
        ):
            found[sid]["interventions"] = n
        p = agent_performance.c
        for sid, wins, n in conn.execute(
            sa.select(p.session_id, sa.func.sum(sa.case((p.success, 1), else_=0)), sa.func.count())
            .where(p.session_id.in_(ids))
            .group_by(p.session_id)
        ):
            found[sid]["success_rate"] = (wins or 0) / n if n else None
        return found

    def session(self, session_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions).where(sessions.c.session_id == session_id)
            ).first()
        return _session_json(row) if row is not None else None

    def series(self, session_id: str, request: SeriesRequest) -> list[dict[str, Any]]:
        """Score and signals at the bucket, oldest first; raises QueryError if too many points."""
        return self._series.series(session_id, request)

    def anomalies(self, session_id: str) -> list[dict[str, Any]]:
        a = anomalies.c
        query = (
            sa.select(anomalies)
            .where(a.session_id == session_id)
            .order_by(a.time.desc())
            .limit(MAX_ITEMS)
        )
        with self.engine.connect() as conn:
            return [episode_json(row) for row in conn.execute(query)]

    def interventions(self, session_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """The session's interventions, newest first; only those in `status` when given."""
        t = interventions.c
        where = [t.session_id == session_id]
        if status is not None:
            where.append(t.status == status)
        query = sa.select(interventions).where(*where).order_by(t.time.desc()).limit(MAX_ITEMS)
        with self.engine.connect() as conn:
            return [InterventionRecord.from_row(row).as_json() for row in conn.execute(query)]


def _session_json(row: sa.Row[Any]) -> dict[str, Any]:
    duration = (row.ended_at or row.last_seen) - row.first_seen
    return {
        "session_id": row.session_id,
        "event_id": row.event_id,
        "title": row.title,
        "event_title": row.event_title,
        "status": row.status,
        "first_seen": _iso(row.first_seen),
        "last_seen": _iso(row.last_seen),
        "ended_at": _iso(row.ended_at),
        "duration_seconds": max(0.0, duration.total_seconds()),
        "last_score": row.last_score,
        "present_users": row.present_users,
    }
