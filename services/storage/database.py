"""Engine creation, reachability, and TimescaleDB's job health (the schema: migrate.py)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    backend: str  # "sqlite", "postgresql" or "timescaledb"
    revision: str  # the migration the schema is at

    @property
    def has_aggregates(self) -> bool:
        """Whether the continuous aggregates of services/storage/policy.py exist."""
        return self.backend == "timescaledb"


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL lets the web tier read while the collector writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
        connect_args={
            "connect_timeout": 5,
            # A hung statement or a silently dropped connection must not freeze the tick loop.
            "options": "-c statement_timeout=15000 -c lock_timeout=5000",
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )


def failed_policy_jobs(engine: Engine) -> list[str]:
    """TimescaleDB's background jobs in this database (refreshes, compression, retention) whose
    last run failed, as "<job name> on <table>"; [] elsewhere. The jobs keep our aggregates and
    retention working, and nothing else would say they stopped."""
    query = sa.text(
        "SELECT j.application_name, coalesce(j.hypertable_name::text, '') "
        "FROM timescaledb_information.jobs j "
        "JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id "
        "WHERE s.last_run_status = 'Failed' AND j.proc_name IN ("
        "'policy_refresh_continuous_aggregate', 'policy_compression', 'policy_retention') "
        "ORDER BY j.job_id"
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [f"{name} on {table}" if table else str(name) for name, table in rows]


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return False
    return True
