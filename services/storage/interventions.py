"""The `interventions` rows: one per suggestion or launch, moved through its statuses atomically.

Every status change is a conditional UPDATE (`WHERE status IN (...)`), so two servers, or two
producers clicking at once, cannot both move the same intervention: exactly one sees a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.core.push_objects import Intervention
from services.core.vocabulary import InterventionStatus, InterventionType
from services.storage.schema import agent_performance, engagement_metrics, interventions

# The event's cap on executed interventions counts over this window (design §6).
EVENT_HOUR_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class ExecutionHistory:
    """What was executed recently: enough to apply every guard."""

    session_last: datetime | None  # the session's latest execution, any type
    session_recent: int  # the session's executions within the burst window
    event_hour: int  # the event's executions within the last hour
    type_last: Mapping[InterventionType, datetime]  # the session's latest per type


@dataclass(frozen=True, slots=True)
class InterventionRecord:
    intervention_id: str
    time: datetime
    session_id: str
    event_id: str | None
    type: str
    status: str
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
    expires_at: datetime | None
    decided_at: datetime | None
    executed_at: datetime | None
    measured_at: datetime | None
    written_by: str | None = None
    writing: dict[str, Any] | None = None
    tokens: int | None = None

    @classmethod
    def from_row(cls, row: sa.Row) -> InterventionRecord:
        return cls(**{name: getattr(row, name) for name in cls.__slots__})

    def as_json(self) -> dict[str, Any]:
        """The protocol's intervention object (services/core/push.py), as the API sends it."""
        return Intervention.from_row(self).as_json()


class InterventionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reads ----------------------------------------------------------------------------------

    def get(
        self, intervention_id: str, conn: Connection | None = None
    ) -> InterventionRecord | None:
        query = sa.select(interventions).where(interventions.c.intervention_id == intervention_id)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).first()
        return InterventionRecord.from_row(row) if row is not None else None

    def for_session(self, session_id: str, limit: int = 50) -> list[InterventionRecord]:
        """The session's interventions, newest first."""
        query = (
            sa.select(interventions)
            .where(interventions.c.session_id == session_id)
            .order_by(interventions.c.time.desc(), interventions.c.intervention_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [InterventionRecord.from_row(row) for row in conn.execute(query)]

    def pending_in_session(self, conn: Connection, session_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            interventions.c.session_id == session_id,
            interventions.c.status == InterventionStatus.PENDING.value,
        )
        return int(conn.execute(query).scalar() or 0)

    def history(
        self,
        conn: Connection,
        session_id: str,
        event_id: str | None,
        now: datetime,
        burst_seconds: float,
        lookback_seconds: float,
    ) -> ExecutionHistory:
        """What the guards need: executions in this session and event, by execution time, over
        the last `lookback_seconds` (the longest guard), `session_recent` over `burst_seconds`."""
        t = interventions.c
        longest = max(burst_seconds, lookback_seconds)
        # An approved intervention counts from its approval: it is being sent, and a second
        # decision made meanwhile must not slip past the limits.
        at = sa.func.coalesce(t.executed_at, t.decided_at)
        counted = sa.or_(t.executed_at.is_not(None), t.status == InterventionStatus.APPROVED.value)
        rows = conn.execute(
            sa.select(t.type, at.label("at")).where(
                t.session_id == session_id, counted, at > now - timedelta(seconds=longest)
            )
        ).all()
        burst_since = now - timedelta(seconds=burst_seconds)
        type_last: dict[InterventionType, datetime] = {}
        for row in rows:
            try:
                arm = InterventionType(row.type)
            except ValueError:
                continue
            if arm not in type_last or row.at > type_last[arm]:
                type_last[arm] = row.at
        event_hour = 0
        if event_id is not None:
            event_hour = int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        t.event_id == event_id,
                        counted,
                        at > now - timedelta(seconds=EVENT_HOUR_SECONDS),
                    )
                ).scalar()
                or 0
            )
        return ExecutionHistory(
            session_last=max((row.at for row in rows), default=None),
            session_recent=sum(1 for row in rows if row.at > burst_since),
            event_hour=event_hour,
            type_last=type_last,
        )

    def scores_between(
        self, conn: Connection, session_id: str, start: datetime, end: datetime
    ) -> list[float]:
        """Stored scores with start <= time < end."""
        m = engagement_metrics.c
        rows = conn.execute(
            sa.select(m.engagement_score).where(
                m.session_id == session_id, m.time >= start, m.time < end
            )
        )
        return [row[0] for row in rows]

    def executed_before(self, conn: Connection, cutoff: datetime) -> list[InterventionRecord]:
        """Executed interventions whose measurement time has come."""
        t = interventions.c
        query = sa.select(interventions).where(
            t.status == InterventionStatus.EXECUTED.value, t.executed_at <= cutoff
        )
        return [InterventionRecord.from_row(row) for row in conn.execute(query)]

    # -- writes ---------------------------------------------------------------------------------

    def insert(self, conn: Connection, row: dict[str, Any]) -> InterventionRecord:
        full = {column.name: None for column in interventions.columns} | row
        conn.execute(interventions.insert().values(**full))
        return InterventionRecord(**full)

    def move(
        self,
        conn: Connection,
        intervention_id: str,
        allowed_from: Iterable[InterventionStatus],
        to: InterventionStatus,
        **fields: Any,
    ) -> InterventionRecord | None:
        """Move one intervention to `to` if it is in one of `allowed_from`; None if it was not."""
        t = interventions.c
        result = conn.execute(
            sa.update(interventions)
            .where(
                t.intervention_id == intervention_id,
                t.status.in_([status.value for status in allowed_from]),
            )
            .values(status=to.value, **fields)
        )
        if result.rowcount != 1:
            return None
        return self.get(intervention_id, conn)

    def set_writing(
        self, conn: Connection, intervention_id: str, fields: Mapping[str, Any]
    ) -> InterventionRecord | None:
        """Record what the writer did (and its content, when the caller may still change it)."""
        conn.execute(
            sa.update(interventions)
            .where(interventions.c.intervention_id == intervention_id)
            .values(**fields)
        )
        return self.get(intervention_id, conn)

    def tokens_spent(self, conn: Connection, event_id: str) -> int:
        """What the event's interventions have spent on writing, in tokens."""
        query = sa.select(sa.func.coalesce(sa.func.sum(interventions.c.tokens), 0)).where(
            interventions.c.event_id == event_id
        )
        return int(conn.execute(query).scalar() or 0)

    def set_outcome(
        self, conn: Connection, intervention_id: str, outcome: dict[str, Any]
    ) -> InterventionRecord | None:
        conn.execute(
            sa.update(interventions)
            .where(interventions.c.intervention_id == intervention_id)
            .values(outcome=outcome)
        )
        return self.get(intervention_id, conn)

    def expire_due(self, conn: Connection, now: datetime) -> list[InterventionRecord]:
        t = interventions.c
        due = conn.execute(
            sa.select(t.intervention_id).where(
                t.status == InterventionStatus.PENDING.value, t.expires_at <= now
            )
        ).all()
        expired = [self.expire(conn, intervention_id, now) for (intervention_id,) in due]
        return [record for record in expired if record is not None]

    def expire(
        self, conn: Connection, intervention_id: str, now: datetime
    ) -> InterventionRecord | None:
        """A pending suggestion past its time, moved to expired; None if it was not pending."""
        return self.move(
            conn,
            intervention_id,
            [InterventionStatus.PENDING],
            InterventionStatus.EXPIRED,
            decided_at=now,
            note="nobody approved or dismissed it in time",
        )

    def stuck_approved(self, conn: Connection, before: datetime) -> list[str]:
        """Approved but never sent (a server died between approving and sending)."""
        t = interventions.c
        rows = conn.execute(
            sa.select(t.intervention_id).where(
                t.status == InterventionStatus.APPROVED.value, t.decided_at < before
            )
        )
        return [row[0] for row in rows]

    def record_performance(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(agent_performance.insert().values(**row))

    def performance_by_type(
        self, events: Iterable[str] | None = None
    ) -> dict[str, dict[str, float]]:
        """Per type: attempts, successes and the mean engagement change, from measured rows."""
        p = agent_performance.c
        delta = p.engagement_after - p.engagement_before
        query = sa.select(
            p.intervention_type,
            sa.func.count(),
            sa.func.sum(sa.case((p.success, 1), else_=0)),
            sa.func.avg(delta),
        ).group_by(p.intervention_type)
        if events is not None:
            query = query.where(p.event_id.in_(list(events)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {
            row[0]: {
                "attempts": float(row[1]),
                "successes": float(row[2] or 0),
                "mean_delta": float(row[3]) if row[3] is not None else 0.0,
            }
            for row in rows
        }
