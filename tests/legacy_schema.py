"""A database as the releases before migrations left it (`schema_version` 7): today's tables
less the columns that revisions after the baseline added."""

from __future__ import annotations

import sqlalchemy as sa

from services.storage.schema import metadata

# (table, column) added by a revision after 0001, newest last.
ADDED_AFTER_BASELINE = (
    ("agent_posteriors", "delta_squares"),  # 0003
    ("agent_posteriors", "before_sum"),  # 0004
    ("agent_posteriors", "lift_sum"),
    ("agent_posteriors", "lift_squares"),
)


def create_v7_tables(conn: sa.Connection) -> None:
    metadata.create_all(conn)
    for table, column in ADDED_AFTER_BASELINE:
        conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
