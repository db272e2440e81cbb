"""Schema migrations with Alembic (revisions in services/storage/migrations/versions).

`upgrade_schema` brings a database to a revision (the newest by default), adopting one made by
releases before migrations, then makes TimescaleDB's policies match the settings.
`check_schema` is what a server does when it was not told to migrate: it refuses a database
that is not at the newest revision, saying what to run. Concurrent upgrades of one PostgreSQL
database wait for each other (an advisory lock).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from services.core.settings import StoragePolicy
from services.storage.database import DatabaseInfo
from services.storage.policy import apply_on_timescale
from services.storage.schema import metadata
from services.storage.timescale import timescale_in_use

log = logging.getLogger(__name__)

# The schema_version of releases before migrations that revision 0001 describes.
ADOPTED_VERSION = 7
BASELINE = "0001"
_UPGRADE_LOCK = 727274001
UPGRADE_HINT = "run `engagement-conductor db upgrade`, or start with --migrate"


class SchemaError(RuntimeError):
    """The database's schema is not one this program can run on."""


@dataclass(frozen=True, slots=True)
class Revision:
    revision: str
    down_revision: str | None
    title: str


def _config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "services.storage:migrations")
    if url is not None:
        # The URL goes through configparser interpolation: a literal % must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "no migrations"
    return head


def history() -> list[Revision]:
    """Every revision, oldest first."""
    found = [
        Revision(
            script.revision,
            script.down_revision if isinstance(script.down_revision, str) else None,
            (script.doc or "").strip().splitlines()[0] if script.doc else "",
        )
        for script in _scripts().walk_revisions()
    ]
    return list(reversed(found))


def current_revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _legacy_version(conn: sa.Connection) -> int | None:
    """The schema_version of a database made before migrations; None if there is none."""
    if not sa.inspect(conn).has_table("schema_version"):
        return None
    value = conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
    return int(value) if value is not None else None


def _known(revision: str) -> bool:
    return revision in {entry.revision for entry in history()}


@contextmanager
def _upgrading(engine: Engine) -> Iterator[sa.Connection]:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})"))
            # An index on a large table takes longer than the 15 s a served query may.
            conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        yield conn


def upgrade_schema(
    engine: Engine, policy: StoragePolicy | None = None, target: str = "head"
) -> DatabaseInfo:
    with _upgrading(engine) as conn:
        config = _config()
        config.attributes["connection"] = conn
        current = current_revision(conn)
        if current is None:
            _adopt(conn, config)
        elif not _known(current):
            raise SchemaError(_newer(current))
        command.upgrade(config, target)
        backend = conn.dialect.name
        if timescale_in_use(conn):
            backend = "timescaledb"
            apply_on_timescale(conn, policy or StoragePolicy())
        reached = current_revision(conn) or "base"
    if reached != current:
        log.info("database schema upgraded from %s to %s", current or "nothing", reached)
    return DatabaseInfo(backend=backend, revision=reached)


def downgrade_schema(engine: Engine, target: str) -> str:
    with _upgrading(engine) as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, target)
        return current_revision(conn) or "base"


def _adopt(conn: sa.Connection, config: Config) -> None:
    """A database of the releases before migrations starts at the revision its tables are."""
    legacy = _legacy_version(conn)
    if legacy is None:
        ours = set(sa.inspect(conn).get_table_names()) & set(metadata.tables)
        if ours:
            raise SchemaError(
                f"this database has tables of ours ({', '.join(sorted(ours))}) but neither a "
                "migration revision nor a schema version: it was not made by a release this "
                "program can upgrade"
            )
        return
    if legacy != ADOPTED_VERSION:
        raise SchemaError(
            f"this database has schema version {legacy}, made by a release before migrations; "
            f"only version {ADOPTED_VERSION} is adopted: start the release that made it, at "
            f"its newest, once to bring it to {ADOPTED_VERSION}"
        )
    command.stamp(config, BASELINE)
    log.info("database of schema version %d adopted at revision %s", legacy, BASELINE)


def _newer(current: str) -> str:
    return (
        f"the database is at revision {current}, which this program does not know (its "
        f"newest is {head_revision()}): a newer release migrated it; run that release"
    )


def check_schema(engine: Engine) -> DatabaseInfo:
    """The database at the newest revision, or SchemaError saying what to do."""
    with engine.connect() as conn:
        current = current_revision(conn)
        if current is None:
            legacy = _legacy_version(conn)
            if legacy is None:
                raise SchemaError(f"the database has no schema yet: {UPGRADE_HINT}")
            raise SchemaError(
                f"the database was made before migrations (schema version {legacy}): {UPGRADE_HINT}"
            )
        if not _known(current):
            raise SchemaError(_newer(current))
        head = head_revision()
        if current != head:
            raise SchemaError(
                f"the database is at revision {current}, older than this program's {head}: "
                f"{UPGRADE_HINT}"
            )
        backend = "timescaledb" if timescale_in_use(conn) else conn.dialect.name
    return DatabaseInfo(backend=backend, revision=current)


def upgrade_sql(engine: Engine, url: str, target: str = "head") -> str:
    """The SQL an upgrade from the database's revision would run, without running it."""
    with engine.connect() as conn:
        current = current_revision(conn)
        if current is None and _legacy_version(conn) == ADOPTED_VERSION:
            current = BASELINE  # adopted, not created again
    config = _config(url)
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, f"{current}:{target}" if current else target, sql=True)
    return buffer.getvalue()
