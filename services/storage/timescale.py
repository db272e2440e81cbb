"""Whether TimescaleDB can be used on a connection's server, and whether it is in use."""

from __future__ import annotations

import logging

import sqlalchemy as sa

log = logging.getLogger(__name__)


def timescale_loadable(conn: sa.Connection) -> bool:
    """The extension is installed on the server and preloaded, so CREATE EXTENSION works."""
    if conn.dialect.name != "postgresql":
        return False
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
    return True


def timescale_in_use(conn: sa.Connection) -> bool:
    """This database has the extension (a migration created it)."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"))
    return found.first() is not None
