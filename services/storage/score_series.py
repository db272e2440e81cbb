"""One session's score and signals over a range, raw or in buckets of 1 min, 5 min or 1 hour.

Buckets come from TimescaleDB's continuous aggregates when they exist (5 min rolled up from the
1-minute one; tick-weighted, so the same numbers as from the raw rows), from `date_bin` on plain
PostgreSQL, and from epoch arithmetic on SQLite. Every answer is bounded by MAX_POINTS: a finer
bucket over a longer range is refused, not truncated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.storage.analyst_requests import (
    BUCKETS,
    EARLIEST,
    MAX_POINTS,
    QueryError,
    SeriesRequest,
)
from services.storage.schema import engagement_metrics

# Where every bucket is anchored: buckets fall on whole minutes and hours in UTC.
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
_SIGNALS = ("score", "chat", "poll", "active", "reactions", "leave")
_RAW_COLUMNS = {
    "score": "engagement_score",
    "chat": "chat_msgs_per_min",
    "poll": "poll_participation",
    "active": "active_users",
    "reactions": "reactions_per_min",
    "leave": "user_leave_rate",
}


def _aggregate(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("bucket", sa.DateTime(timezone=True)),
        sa.column("session_id", sa.String),
        sa.column("ticks", sa.BigInteger),
        *[sa.column(f"{signal}_sum", sa.Float) for signal in _SIGNALS],
    )


ENGAGEMENT_1M = _aggregate("engagement_1m")
ENGAGEMENT_1H = _aggregate("engagement_1h")


class ScoreSeries:
    def __init__(self, engine: Engine, aggregates: bool) -> None:
        self.engine = engine
        self.aggregates = aggregates

    def series(self, session_id: str, request: SeriesRequest) -> list[dict[str, Any]]:
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
        if step is not None:
            # Whole buckets on every backend (an aggregate cannot cut one): the range widens
            # to the buckets that hold its ends.
            start, end = _floor(start, step), _ceil(end, step)
        if step is None:
            query = self._raw(session_id, start, end)
        elif self.aggregates:
            query = self._from_aggregate(session_id, start, end, step)
        else:
            query = self._binned(session_id, start, end, step)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if len(rows) > MAX_POINTS:
            raise QueryError(
                f"more than {MAX_POINTS} raw points in that range; choose a bucket or a "
                "shorter range"
            )
        return [_point(row) for row in rows]

    @staticmethod
    def _raw(session_id: str, start: datetime, end: datetime) -> sa.Select[Any]:
        m = engagement_metrics.c
        return (
            sa.select(
                m.time.label("bucket"),
                *[m[column].label(signal) for signal, column in _RAW_COLUMNS.items()],
                sa.literal(1).label("ticks"),
            )
            .where(m.session_id == session_id, m.time >= start, m.time < end)
            .order_by(m.time)
            .limit(MAX_POINTS + 1)
        )

    def _binned(
        self, session_id: str, start: datetime, end: datetime, step: timedelta
    ) -> sa.Select[Any]:
        m = engagement_metrics.c
        bucket = self._bucket(step).label("bucket")
        return (
            sa.select(
                bucket,
                *[
                    # avg() of an integer column is numeric on PostgreSQL: JSON wants a float.
                    sa.cast(sa.func.avg(m[column]), sa.Float).label(signal)
                    for signal, column in _RAW_COLUMNS.items()
                ],
                sa.func.count().label("ticks"),
            )
            .where(m.session_id == session_id, m.time >= start, m.time < end)
            .group_by(bucket)
            .order_by(bucket)
        )

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

    @staticmethod
    def _from_aggregate(
        session_id: str, start: datetime, end: datetime, step: timedelta
    ) -> sa.Select[Any]:
        source = ENGAGEMENT_1H if step >= timedelta(hours=1) else ENGAGEMENT_1M
        c = source.c
        native = timedelta(hours=1) if source is ENGAGEMENT_1H else timedelta(minutes=1)
        # `start` and `end` fall on the step's boundaries, and so on the aggregate's.
        where = [c.session_id == session_id, c.bucket >= start, c.bucket < end]
        if step == native:
            return (
                sa.select(
                    c.bucket,
                    *[_ratio(c[f"{s}_sum"], c.ticks).label(s) for s in _SIGNALS],
                    c.ticks,
                )
                .where(*where)
                .order_by(c.bucket)
            )
        bucket = sa.func.date_bin(
            sa.text(f"INTERVAL '{int(step.total_seconds())} seconds'"), c.bucket, _ORIGIN
        ).label("bucket")
        ticks = sa.func.sum(c.ticks)
        return (
            sa.select(
                bucket,
                *[_ratio(sa.func.sum(c[f"{s}_sum"]), ticks).label(s) for s in _SIGNALS],
                # sum(bigint) is numeric: JSON would get a string.
                sa.cast(ticks, sa.BigInteger).label("ticks"),
            )
            .where(*where)
            .group_by(bucket)
            .order_by(bucket)
        )


def _floor(at: datetime, step: timedelta) -> datetime:
    return _ORIGIN + ((at - _ORIGIN) // step) * step


def _ceil(at: datetime, step: timedelta) -> datetime:
    floor = _floor(at, step)
    return floor if floor == at else floor + step


def _ratio(total: sa.ColumnElement[Any], ticks: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    # Sums of integers come back as bigint or numeric: divide as floats, never as integers.
    return sa.cast(total, sa.Float) / sa.cast(ticks, sa.Float)


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
