"""Engine creation and idempotent schema set-up, including the TimescaleDB path when present."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.core.settings import StoragePolicy
from services.storage.policy import apply_on_timescale
from services.storage.schema import HYPERTABLES, SCHEMA_VERSION, metadata, schema_version

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    backend: str  # "sqlite", "postgresql" or "timescaledb"
    version: int

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


def _timescale_available(conn: sa.Connection) -> bool:
    found = conn.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).first()
    if found is None:
        return False
    preloaded = conn.execute(sa.text("SHOW shared_preload_libraries")).scalar() or ""
    if "timescaledb" not in preloaded:
        # Installed but not loaded: CREATE EXTENSION would fail, plain PostgreSQL still works.
        log.warning(
            "TimescaleDB is installed but not in shared_preload_libraries; using plain PostgreSQL"
        )
        return False
    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    return True


def ensure_schema(engine: Engine, policy: StoragePolicy | None = None) -> DatabaseInfo:
    """Create what is missing; safe to run on every start and from several processes. With
    TimescaleDB, also the aggregates and the storage policies (default: StoragePolicy())."""
    with engine.begin() as conn:
        backend = engine.dialect.name
        if backend == "postgresql":
            # Serialise concurrent start-ups of several servers on one database.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274001)"))
            if _timescale_available(conn):
                backend = "timescaledb"
        metadata.create_all(conn, checkfirst=True)
        _upgrade_tables(conn)
        if backend == "timescaledb":
            for table in HYPERTABLES:
                conn.execute(
                    sa.text(
                        "SELECT create_hypertable(:table, by_range('time', INTERVAL '1 day'),"
                        " if_not_exists => TRUE, migrate_data => TRUE)"
                    ),
                    {"table": table},
                )
            apply_on_timescale(conn, policy or StoragePolicy())
        current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
        if current is None or current < SCHEMA_VERSION:
            conn.execute(
                schema_version.insert().values(version=SCHEMA_VERSION, applied_at=datetime.now(UTC))
            )
        elif current > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {current} is newer than this program's {SCHEMA_VERSION}"
            )
    return DatabaseInfo(backend=backend, version=SCHEMA_VERSION)


def _upgrade_tables(conn: sa.Connection) -> None:
    """Bring tables made by an older version up to date: later versions only ever add nullable
    columns, which ALTER TABLE can add in place on every backend (hypertables included), and
    indexes, which create_all makes only with a new table."""
    inspector = sa.inspect(conn)
    preparer = conn.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise RuntimeError(f"cannot add required column {table.name}.{column.name}")
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(
                sa.text(
                    f"ALTER TABLE {preparer.quote(table.name)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {kind}"
                )
            )
            log.info("schema: added column %s.%s", table.name, column.name)
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def failed_policy_jobs(engine: Engine) -> list[str]:
    """TimescaleDB's background jobs in this database (refreshes, compression, retention) whose
    last run failed, as "<job name> on <table>"; [] elsewhere. The jobs keep our aggregates and
    retention working, and nothing else would say they stopped."""
    query = sa.text(
        "SELECT j.application_name, coalesce(j.hypertable_name::text, '') "
        "FROM timescaledb_information.jobs j "
        "JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id "
        "WHERE s.last_run_status = 'Failed' ORDER BY j.job_id"
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
