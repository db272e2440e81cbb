"""Batch upserts on PostgreSQL through COPY into a staging table, then one INSERT … SELECT.

A tick of 10,000 sessions is too much for multi-row INSERTs within the tick's budget: COPY moves
the rows in one stream and the merge happens inside the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb


def copy_upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    updates: dict[str, str],
) -> None:
    """Upsert `rows` into `table`; `updates` maps a column to its SQL on conflict.

    Rows repeating a conflict key keep the last one, as ON CONFLICT can touch a row only once.
    """
    columns = [column.name for column in table.columns]
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unique[tuple(row[key] for key in conflict)] = row
    json_columns = {
        c.name
        for c in table.columns
        if isinstance(c.type.dialect_impl(conn.dialect), sa.dialects.postgresql.JSONB)
    }
    stage = f"stage_{table.name}"
    column_list = ", ".join(f'"{name}"' for name in columns)
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{table.name}") ON COMMIT DELETE ROWS'
        )
        with cursor.copy(f'COPY "{stage}" ({column_list}) FROM STDIN') as copy:
            for row in unique.values():
                copy.write_row(
                    [
                        Jsonb(row[name])
                        if name in json_columns and row.get(name) is not None
                        else row.get(name)
                        for name in columns
                    ]
                )
        assignments = ", ".join(f'"{column}" = {sql}' for column, sql in updates.items())
        keys = ", ".join(f'"{key}"' for key in conflict)
        cursor.execute(
            f'INSERT INTO "{table.name}" ({column_list}) SELECT {column_list} FROM "{stage}" '
            f"ON CONFLICT ({keys}) DO UPDATE SET {assignments}"
        )
