"""TimescaleDB: the extension, hypertables of the time-series tables, continuous aggregates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Only where the server has TimescaleDB loaded (shared_preload_libraries); on SQLite and plain
PostgreSQL this revision changes nothing. Idempotent, so a database made by earlier releases on
TimescaleDB (adopted at 0001) passes through it unharmed. The storage policies (refresh,
compression, retention) follow settings and are brought in line by migrate.upgrade after every
upgrade, this one included.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from services.storage.policy import AGGREGATES, create_aggregates
from services.storage.schema import HYPERTABLES
from services.storage.timescale import timescale_loadable

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if context.is_offline_mode():
        op.execute("-- 0002: TimescaleDB objects are created online only (the server decides)")
        return
    conn = op.get_bind()
    if not timescale_loadable(conn):
        return
    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    for table in HYPERTABLES:
        conn.execute(
            sa.text(
                "SELECT create_hypertable(:table, by_range('time', INTERVAL '1 day'),"
                " if_not_exists => TRUE, migrate_data => TRUE)"
            ),
            {"table": table},
        )
    create_aggregates(conn)


def downgrade() -> None:
    """The aggregates go (and their refresh policies with them); the hypertables stay: turning
    one back into a plain table means copying it, which no downgrade should do unasked."""
    if context.is_offline_mode():
        return
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for name in AGGREGATES:
        conn.execute(sa.text(f"DROP MATERIALIZED VIEW IF EXISTS {name}"))
