"""How long score rows are kept and how they are stored, from settings.

With TimescaleDB: continuous aggregates of the score rows at 1 minute and 1 hour (real-time
aggregation on, so the newest minutes come from the raw rows), refreshed by policy; native
compression of older chunks; retention policies dropping old raw chunks and, separately, old
aggregate buckets. Without it there are no aggregates or compression, and raw rows past their
retention are deleted in batches by the collector's housekeeping (`prune_scores`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.core.settings import REFRESH_WINDOW_DAYS, StoragePolicy
from services.storage.schema import UTCDateTime

log = logging.getLogger(__name__)

# Continuous aggregates: name -> bucket width. Sums and counts, not averages, so coarser
# buckets (5 min from the 1-minute one) stay exact tick-weighted averages.
AGGREGATES: dict[str, str] = {"engagement_1m": "1 minute", "engagement_1h": "1 hour"}
_PRUNE_BATCH = 50_000


def _aggregate_sql(name: str, width: str) -> str:
    return f"""
        CREATE MATERIALIZED VIEW {name}
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '{width}', time) AS bucket,
               session_id,
               count(*) AS ticks,
               sum(engagement_score) AS score_sum,
               sum(chat_msgs_per_min) AS chat_sum,
               sum(poll_participation) AS poll_sum,
               sum(active_users) AS active_sum,
               sum(reactions_per_min) AS reactions_sum,
               sum(user_leave_rate) AS leave_sum
        FROM engagement_metrics
        GROUP BY bucket, session_id
        WITH NO DATA
    """


def create_aggregates(conn: sa.Connection) -> None:
    """The continuous aggregates that are missing (migration 0002; idempotent)."""
    existing = set(
        conn.execute(
            sa.text("SELECT view_name FROM timescaledb_information.continuous_aggregates")
        ).scalars()
    )
    for name, width in AGGREGATES.items():
        if name not in existing:
            conn.execute(sa.text(_aggregate_sql(name, width)))
            conn.execute(sa.text(f"CREATE INDEX ON {name} (session_id, bucket)"))
            log.info("TimescaleDB: created continuous aggregate %s", name)


def apply_on_timescale(conn: sa.Connection, policy: StoragePolicy) -> None:
    """Make the policies match `policy`; idempotent, run after every upgrade (policies are
    background jobs, nothing heavy runs here). The aggregates are the migrations' to make."""
    for name, width in AGGREGATES.items():
        # Real-time aggregation is off by default since 2.13: the newest buckets need it.
        conn.execute(
            sa.text(f"ALTER MATERIALIZED VIEW {name} SET (timescaledb.materialized_only = false)")
        )
        conn.execute(
            sa.text("SELECT remove_continuous_aggregate_policy(:v, if_exists => true)"), {"v": name}
        )
        conn.execute(
            sa.text(
                "SELECT add_continuous_aggregate_policy(:v, "
                "start_offset => make_interval(days => :days), "
                "end_offset => CAST(:width AS interval), "
                "schedule_interval => CAST(:width AS interval))"
            ),
            {"v": name, "days": REFRESH_WINDOW_DAYS, "width": width},
        )
    _compression(conn, policy.compress_after_days)
    _retention(conn, "engagement_metrics", policy.metrics_retention_days)
    for name in AGGREGATES:
        _retention(conn, name, policy.aggregate_retention_days)


def _compression(conn: sa.Connection, after_days: int) -> None:
    conn.execute(
        sa.text("SELECT remove_compression_policy('engagement_metrics', if_exists => true)")
    )
    if not after_days:
        return
    enabled = conn.execute(
        sa.text(
            "SELECT compression_enabled FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'engagement_metrics'"
        )
    ).scalar()
    if not enabled:
        # One session's rows together, newest first: what a session's series reads.
        conn.execute(
            sa.text(
                "ALTER TABLE engagement_metrics SET (timescaledb.compress, "
                "timescaledb.compress_segmentby = 'session_id', "
                "timescaledb.compress_orderby = 'time DESC')"
            )
        )
    conn.execute(
        sa.text(
            "SELECT add_compression_policy('engagement_metrics', "
            "compress_after => make_interval(days => :days))"
        ),
        {"days": after_days},
    )


def _retention(conn: sa.Connection, relation: str, days: int) -> None:
    conn.execute(sa.text("SELECT remove_retention_policy(:r, if_exists => true)"), {"r": relation})
    if days:
        conn.execute(
            sa.text("SELECT add_retention_policy(:r, drop_after => make_interval(days => :days))"),
            {"r": relation, "days": days},
        )


def prune_scores(engine: Engine, policy: StoragePolicy, now: datetime) -> int:
    """Without TimescaleDB: delete one batch of score rows past their retention; returns how
    many went (the housekeeping calls it again next time while there are more)."""
    if not policy.metrics_retention_days:
        return 0
    cutoff = now - timedelta(days=policy.metrics_retention_days)
    row_id = "ctid" if engine.dialect.name == "postgresql" else "rowid"
    # A bounded batch found through the time index, so a backlog never holds a long lock.
    batch = sa.text(
        f"DELETE FROM engagement_metrics WHERE {row_id} IN "
        f"(SELECT {row_id} FROM engagement_metrics WHERE time < :cutoff LIMIT :batch)"
    ).bindparams(sa.bindparam("cutoff", type_=UTCDateTime))
    with engine.begin() as conn:
        result = conn.execute(batch, {"cutoff": cutoff, "batch": _PRUNE_BATCH})
    return int(result.rowcount or 0)


class ScorePruner:
    """Runs `prune_scores` from the collector's housekeeping: hourly, or at every turn while a
    backlog remains; never where TimescaleDB's own retention policy does the job."""

    def __init__(self, engine: Engine, policy: StoragePolicy, every_seconds: float = 3600) -> None:
        self.engine = engine
        self.policy = policy
        self.every_seconds = every_seconds
        self._next_at = 0.0
        self._timescale: bool | None = None

    def run(self) -> int:
        now = time.monotonic()
        if not self.policy.metrics_retention_days or now < self._next_at:
            return 0
        if self._timescale is None:
            self._timescale = _has_timescale(self.engine)
        if self._timescale:
            return 0
        deleted = prune_scores(self.engine, self.policy, datetime.now(UTC))
        self._next_at = now if deleted >= _PRUNE_BATCH else now + self.every_seconds
        if deleted:
            log.info(
                "deleted %d score rows older than %d days",
                deleted,
                self.policy.metrics_retention_days,
            )
        return deleted


def _has_timescale(engine: Engine) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"))
        return found.first() is not None
