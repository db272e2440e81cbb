"""Per-session figures kept up to date for analysts: tick count, score sum and minimum, ticks
below each threshold step, peak audience; rolled up from the score rows incrementally.

Only settled rows are rolled up (older than SETTLE): a tick is written within its own tick,
so by then it is final. A row written later than that (a backlog flushed after a database
outage, a replay) resets its session's figures in the same transaction (`reset_late`), and the
next roll-up recomputes them from all the session's rows. So the figures are exact for every
row older than SETTLE; filters and sorting on them say so (docs/api.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.storage.schema import UTCDateTime, engagement_metrics, sessions

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=2)
# Rows this late reset their session's figures; a margin under SETTLE covers clock skew
# between the process that writes and the one that rolls up.
LATE_AFTER = SETTLE - timedelta(seconds=20)
THRESHOLD_STEP = 0.05
THRESHOLDS: tuple[float, ...] = tuple(round(THRESHOLD_STEP * k, 2) for k in range(1, 20))
BATCH_SESSIONS = 500
RECOMPUTE_SESSIONS = 50


def threshold_index(threshold: float) -> int:
    """The position of `threshold` in THRESHOLDS; ValueError unless it is one of them."""
    for index, step in enumerate(THRESHOLDS):
        if abs(step - threshold) < 1e-9:
            return index
    raise ValueError(f"thresholds are multiples of {THRESHOLD_STEP} from 0.05 to 0.95")


@dataclass(frozen=True, slots=True)
class SessionFigures:
    ticks: int
    score_sum: float
    score_min: float | None
    ticks_below: tuple[int, ...]
    peak_audience: int | None

    @classmethod
    def empty(cls) -> SessionFigures:
        return cls(0, 0.0, None, (0,) * len(THRESHOLDS), None)

    @classmethod
    def from_row(cls, row: Any) -> SessionFigures:
        if row.score_ticks is None:
            return cls.empty()
        below = row.ticks_below if isinstance(row.ticks_below, list) else []
        if len(below) != len(THRESHOLDS):
            below = [0] * len(THRESHOLDS)
        return cls(
            int(row.score_ticks),
            float(row.score_sum or 0.0),
            row.score_min,
            tuple(int(n) for n in below),
            row.peak_audience,
        )

    def plus(self, other: SessionFigures) -> SessionFigures:
        lows = [v for v in (self.score_min, other.score_min) if v is not None]
        peaks = [v for v in (self.peak_audience, other.peak_audience) if v is not None]
        return SessionFigures(
            self.ticks + other.ticks,
            self.score_sum + other.score_sum,
            min(lows) if lows else None,
            tuple(a + b for a, b in zip(self.ticks_below, other.ticks_below, strict=True)),
            max(peaks) if peaks else None,
        )

    @property
    def average(self) -> float | None:
        return self.score_sum / self.ticks if self.ticks else None


def figures_query(where: Sequence[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """Figures of the score rows matching `where`, one row per session."""
    m = engagement_metrics.c
    # Ticks of a session still filling its first window (`warmup` in extra) count toward the
    # average but not toward the lowest score or the time below a threshold.
    settled = sa.func.coalesce(m.extra["warmup"].as_boolean(), sa.false()).is_(sa.false())
    return (
        sa.select(
            m.session_id,
            sa.func.count().label("ticks"),
            sa.func.sum(m.engagement_score).label("score_sum"),
            sa.func.min(sa.case((settled, m.engagement_score))).label("score_min"),
            sa.func.max(m.extra["total_users"].as_float()).label("peak"),
            *[
                sa.func.sum(
                    sa.case((sa.and_(settled, m.engagement_score < step), 1), else_=0)
                ).label(f"b{k}")
                for k, step in enumerate(THRESHOLDS)
            ],
        )
        .where(*where)
        .group_by(m.session_id)
    )


def figures_of(row: Any) -> SessionFigures:
    return SessionFigures(
        int(row.ticks),
        float(row.score_sum or 0.0),
        row.score_min,
        tuple(int(getattr(row, f"b{k}") or 0) for k in range(len(THRESHOLDS))),
        int(row.peak) if row.peak is not None else None,
    )


def unsettled_tail(conn: sa.Connection, rows: Iterable[Any]) -> dict[str, SessionFigures]:
    """Figures of the score rows each catalogue row's figures do not cover yet (all of them for
    a session never rolled up): added to the stored ones, they give the figures as of now.

    A session whose figures reach past its last tick has none, and is not queried at all; the
    others get their own constant lower bound, which an index (and TimescaleDB's chunk
    exclusion) can use, where a join on `stats_through` would read every row of the session.
    """
    m = engagement_metrics.c
    bounds = []
    for row in rows:
        through = row.stats_through
        if through is None:
            bounds.append(m.session_id == row.session_id)
        elif row.last_seen > through:
            bounds.append(sa.and_(m.session_id == row.session_id, m.time > through))
    if not bounds:
        return {}
    query = figures_query([sa.or_(*bounds)])
    return {found.session_id: figures_of(found) for found in conn.execute(query)}


class SessionStatsRollup:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def advance(self, now: datetime | None = None, limit: int = BATCH_SESSIONS) -> int:
        """Roll the settled rows of up to `limit` sessions into their figures; returns how many
        sessions moved.

        The batch's catalogue rows are locked (skipping rows a writer holds) and read with
        their figures in one statement, so the figures, the bound of the rows added and the
        update all agree; a writer that brings late rows waits for the lock and then resets
        what this roll-up stored (`reset_late`). SQLite has one writer at a time: a roll-up
        that raced one fails and is retried at the next turn."""
        upto = (now or datetime.now(UTC)) - SETTLE
        s, m = sessions.c, engagement_metrics.c
        due = (
            sa.select(sessions)
            .where(sa.or_(s.stats_through.is_(None), s.last_seen > s.stats_through))
            .where(sa.or_(s.stats_through.is_(None), s.stats_through < upto))
            .order_by(s.stats_through.asc().nulls_first(), s.session_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            batch = conn.execute(due).all()
            if batch and batch[0].stats_through is None:
                # Whole sessions to recompute: a few at a time keeps each batch short.
                batch = [row for row in batch if row.stats_through is None][:RECOMPUTE_SESSIONS]
            if not batch:
                return 0
            ranges = [
                sa.and_(m.session_id == row.session_id, m.time <= upto)
                if row.stats_through is None
                else sa.and_(
                    m.session_id == row.session_id, m.time > row.stats_through, m.time <= upto
                )
                for row in batch
            ]
            added = {
                row.session_id: figures_of(row)
                for row in conn.execute(figures_query([sa.or_(*ranges)]))
            }
            moved = 0
            for row in batch:
                total = SessionFigures.from_row(row).plus(
                    added.get(row.session_id, SessionFigures.empty())
                )
                through = row.stats_through
                same = s.stats_through.is_(None) if through is None else s.stats_through == through
                result = conn.execute(
                    sa.update(sessions)
                    .where(s.session_id == row.session_id, same)
                    .values(
                        score_ticks=total.ticks,
                        score_sum=total.score_sum,
                        score_min=total.score_min,
                        ticks_below=list(total.ticks_below),
                        peak_audience=total.peak_audience,
                        stats_through=upto,
                    )
                )
                moved += result.rowcount
        return moved

    def catch_up(self, now: datetime | None = None, budget_seconds: float | None = None) -> int:
        """Advance until every session is rolled up to `now` - SETTLE, or until the budget is
        spent (the housekeeping's turn: thousands of live sessions still settle within it)."""
        started = time.monotonic()
        # One `now` for the whole catch-up: a session done is then not due again.
        now = now or datetime.now(UTC)
        total = 0
        while moved := self.advance(now):
            total += moved
            if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
                break
        return total


def reset_late(conn: sa.Connection, metric_rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Forget the figures of sessions that got score rows the roll-up may have passed already,
    inside the transaction that writes them; the next roll-up recomputes those sessions."""
    late_before = now - LATE_AFTER
    earliest: dict[str, datetime] = {}
    for row in metric_rows:
        at = row["time"]
        if at <= late_before and (
            row["session_id"] not in earliest or at < earliest[row["session_id"]]
        ):
            earliest[row["session_id"]] = at
    if not earliest:
        return
    s = sessions.c
    if conn.dialect.name == "postgresql":
        # Wait for a roll-up holding these rows: what it stores is then there to be reset.
        conn.execute(
            sa.select(s.session_id)
            .where(s.session_id.in_(sorted(earliest)))
            .order_by(s.session_id)
            .with_for_update()
        ).all()
    forget = (
        sa.update(sessions)
        .where(
            s.session_id == sa.bindparam("late_session"),
            s.stats_through >= sa.bindparam("late_since", type_=UTCDateTime),
        )
        .values(
            score_ticks=None,
            score_sum=None,
            score_min=None,
            ticks_below=sa.null(),
            peak_audience=None,
            stats_through=None,
        )
    )
    conn.execute(forget, [{"late_session": sid, "late_since": at} for sid, at in earliest.items()])
    log.info("score rows arrived late for %d sessions; their figures are recomputed", len(earliest))
