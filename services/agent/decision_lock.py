"""One decision at a time per event: the transaction every change of an intervention runs in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


@contextlib.contextmanager
def serialised(engine: Engine, event_id: str | None, session_id: str) -> Iterator[Connection]:
    """A transaction in which no other server decides for the same event (the hourly cap is
    per event; the session's limits follow), or for the session if it names no event."""
    key = f"event:{event_id}" if event_id is not None else f"session:{session_id}"
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 727274))"),
                {"key": key},
            )
            yield conn
        return
    # SQLite has no row locks: BEGIN IMMEDIATE takes the database's write lock at once, so
    # every thread and process deciding meanwhile waits (busy timeout) and then sees this.
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
