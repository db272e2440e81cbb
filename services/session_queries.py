"""Read-only queries for analysts and the JSON API: sessions with filters (paginated, sorted on a
whitelist), one session's series at a bucket, its anomalies and interventions.

Every query is bounded: pages of at most MAX_PAGE_SIZE sessions, series of at most MAX_POINTS
points (a finer bucket over a longer range is refused, not truncated), lists of at most
MAX_ITEMS rows. Parameters arrive as text and are validated here, so every caller (API, pages)
refuses the same bad input with the same message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import Engine

from services.contracts import valid_id
from services.episode_log import episode_json
from services.intervention_store import InterventionRecord
from services.schema import (
    agent_performance,
    anomalies,
    engagement_metrics,
    interventions,
    sessions,
)

MAX_PAGE_SIZE = 200
MAX_POINTS = 5000
MAX_ITEMS = 500
MAX_SEARCH_LENGTH = 200

BUCKETS: dict[str, timedelta | None] = {
    "raw": None,
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
}
SORTABLE = ("first_seen", "last_seen", "session_id", "event_id", "last_score", "present_users")
# Where every bucket is anchored: buckets fall on whole minutes and hours in UTC.
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


class QueryError(ValueError):
    """Input a query cannot take, with a message meant for the person who sent it."""


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2026-11-26T10:00:00Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must be between the years 2000 and 2100")
    return value


class SessionFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: tuple[str, ...] | None = None  # None: no restriction (callers pass the token's scope)
    event: str | None = None
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")
    q: str | None = Field(None, max_length=MAX_SEARCH_LENGTH)
    status: Literal["live", "ended"] | None = None
    sort: Literal[SORTABLE] = "last_seen"  # type: ignore[valid-type]
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)
    # "Minutes below" counts the ticks scored under this.
    below: float = Field(0.4, ge=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("event")
    @classmethod
    def _event_id(cls, value: str | None) -> str | None:
        if value is not None and not valid_id(value):
            raise ValueError("not a valid event id")
        return value

    @field_validator("q")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("holds control characters")
        return value

    @field_validator("start", "end")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    @model_validator(mode="after")
    def _ordered(self) -> SessionFilter:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self


class SeriesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: Literal["raw", "1m", "5m", "1h"] = "1m"
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")

    @field_validator("start", "end")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    @model_validator(mode="after")
    def _ordered(self) -> SeriesRequest:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self


def parse(model: type[BaseModel], raw: dict[str, Any]) -> Any:
    """A validated request model, or QueryError naming each bad parameter."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "request"
            problems.append(f"{where}: {error['msg']}")
        raise QueryError("; ".join(problems)) from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (its wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SessionQueries:
    def __init__(self, engine: Engine, tick_seconds: float = 5.0) -> None:
        self.engine = engine
        self.tick_seconds = tick_seconds

    def sessions(self, flt: SessionFilter) -> dict[str, Any]:
        """One page of the catalogue with per-session figures, and the total that matched."""
        s = sessions.c
        where = []
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
                )
            )
        column = getattr(s, flt.sort)
        ordering = column.desc() if flt.order == "desc" else column.asc()
        page = (
            sa.select(sessions)
            .where(*where)
            .order_by(ordering.nulls_last(), s.session_id)
            .limit(flt.page_size)
            .offset((flt.page - 1) * flt.page_size)
        )
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(sessions).where(*where))
            rows = conn.execute(page).all()
            figures = self._figures(conn, [row.session_id for row in rows], flt.below)
            total_count = int(total.scalar() or 0)
        items = [_session_json(row) | figures.get(row.session_id, {}) for row in rows]
        return {
            "total": total_count,
            "page": flt.page,
            "page_size": flt.page_size,
            "items": items,
        }

    def _figures(
        self, conn: sa.Connection, ids: list[str], below_score: float
    ) -> dict[str, dict[str, Any]]:
        """Average and minimum score, minutes below `below_score`, peak audience and counts,
        for one page's sessions."""
        if not ids:
            return {}
        m = engagement_metrics.c
        below = sa.func.sum(sa.case((m.engagement_score < below_score, 1), else_=0))
        scores = conn.execute(
            sa.select(
                m.session_id,
                sa.func.avg(m.engagement_score),
                sa.func.min(m.engagement_score),
                sa.func.count(),
                below,
                sa.func.max(m.extra["total_users"].as_float()),
            )
            .where(m.session_id.in_(ids))
            .group_by(m.session_id)
        ).all()
        found: dict[str, dict[str, Any]] = {
            sid: {
                "avg_score": avg,
                "min_score": low,
                "ticks": n,
                "minutes_below": round((low_ticks or 0) * self.tick_seconds / 60, 2),
                "peak_audience": int(peak) if peak is not None else None,
            }
            for sid, avg, low, n, low_ticks, peak in scores
        }
        empty = {"avg_score": None, "min_score": None, "ticks": 0, "minutes_below": 0.0}
        for sid in ids:
            found.setdefault(sid, empty | {"peak_audience": None})
            found[sid] |= {"anomalies": 0, "interventions": 0, "success_rate": None}
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
        m = engagement_metrics.c
        end = request.end or datetime.now(UTC)
        start = request.start or max(EARLIEST, end - timedelta(hours=24))
        if start >= end:
            raise QueryError("'from' must be before 'to' (which defaults to now)")
        step = BUCKETS[request.bucket]
        span = (end - start).total_seconds()
        if step is not None and span / step.total_seconds() > MAX_POINTS:
            raise QueryError(
                f"{request.bucket} buckets over that range exceed {MAX_POINTS} points; "
                "choose a coarser bucket or a shorter range"
            )
        where = [m.session_id == session_id, m.time >= start, m.time < end]
        if step is None:
            query = (
                sa.select(
                    m.time.label("bucket"),
                    m.engagement_score.label("score"),
                    m.chat_msgs_per_min.label("chat"),
                    m.poll_participation.label("poll"),
                    m.active_users.label("active"),
                    m.reactions_per_min.label("reactions"),
                    m.user_leave_rate.label("leave"),
                    sa.literal(1).label("ticks"),
                )
                .where(*where)
                .order_by(m.time)
                .limit(MAX_POINTS + 1)
            )
        else:
            bucket = self._bucket(step).label("bucket")
            query = (
                sa.select(
                    bucket,
                    sa.func.avg(m.engagement_score).label("score"),
                    sa.func.avg(m.chat_msgs_per_min).label("chat"),
                    sa.func.avg(m.poll_participation).label("poll"),
                    sa.func.avg(m.active_users).label("active"),
                    sa.func.avg(m.reactions_per_min).label("reactions"),
                    sa.func.avg(m.user_leave_rate).label("leave"),
                    sa.func.count().label("ticks"),
                )
                .where(*where)
                .group_by(bucket)
                .order_by(bucket)
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if len(rows) > MAX_POINTS:
            raise QueryError(
                f"more than {MAX_POINTS} raw points in that range; choose a bucket or a "
                "shorter range"
            )
        return [_point(row) for row in rows]

    def _bucket(self, step: timedelta) -> sa.ColumnElement[Any]:
        m = engagement_metrics.c
        if self.engine.dialect.name == "postgresql":
            return sa.func.date_bin(
                sa.text(f"INTERVAL '{int(step.total_seconds())} seconds'"), m.time, _ORIGIN
            )
        # SQLite stores UTC text: whole seconds since the epoch, floored to the step.
        seconds = int(step.total_seconds())
        epoch = sa.cast(sa.func.strftime("%s", m.time), sa.Integer)
        return (epoch // seconds) * seconds

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

    def interventions(self, session_id: str) -> list[dict[str, Any]]:
        t = interventions.c
        query = (
            sa.select(interventions)
            .where(t.session_id == session_id)
            .order_by(t.time.desc())
            .limit(MAX_ITEMS)
        )
        with self.engine.connect() as conn:
            return [InterventionRecord.from_row(row).as_json() for row in conn.execute(query)]


def _session_json(row: sa.Row[Any]) -> dict[str, Any]:
    duration = (row.ended_at or row.last_seen) - row.first_seen
    return {
        "session_id": row.session_id,
        "event_id": row.event_id,
        "title": row.title,
        "status": row.status,
        "first_seen": _iso(row.first_seen),
        "last_seen": _iso(row.last_seen),
        "ended_at": _iso(row.ended_at),
        "duration_seconds": max(0.0, duration.total_seconds()),
        "last_score": row.last_score,
        "present_users": row.present_users,
    }


def _point(row: sa.Row[Any]) -> dict[str, Any]:
    stamp = row.bucket
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    elif isinstance(stamp, datetime):
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    else:  # SQLite's bucket: seconds since the epoch (an int or a Decimal)
        stamp = datetime.fromtimestamp(float(stamp), UTC)
    return {
        "time": stamp.isoformat(),
        "score": row.score,
        "chat_msgs_per_min": row.chat,
        "poll_participation": row.poll,
        "active_users": row.active,
        "reactions_per_min": row.reactions,
        "user_leave_rate": row.leave,
        "ticks": row.ticks,
    }
