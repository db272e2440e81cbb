"""Where the sampler's outcome counts live: the database for the product (every server sees the
same state and it survives restarts), a dict for benchmarks. Both count outcomes per context key
and intervention type; `services.agent.thompson` turns the counts into posteriors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from services.agent.thompson import ArmRecord, Records
from services.core.vocabulary import AgentContext, InterventionType
from services.storage.schema import agent_posteriors


def learned_keys(context: AgentContext) -> tuple[str, str, str]:
    """An outcome counts for its fine context and for the coarser ones that lend to it."""
    return context.key, context.parent_key, context.grandparent_key


class MemoryPosteriors:
    """Counts in a dict: the benchmarks' closed loop, where no database is involved."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, InterventionType], ArmRecord] = {}

    def records(self, context: AgentContext) -> Records:
        keys = learned_keys(context)
        return {key: record for key, record in self.counts.items() if key[0] in keys}

    def learn(
        self, context: AgentContext, arm: InterventionType, success: bool, delta: float
    ) -> None:
        for key in learned_keys(context):
            old = self.counts.get((key, arm), ArmRecord())
            self.counts[(key, arm)] = old + ArmRecord(
                float(success), float(not success), delta, delta * delta
            )


class DatabasePosteriors:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def records(self, context: AgentContext) -> Records:
        table = agent_posteriors
        query = sa.select(table).where(table.c.context.in_(learned_keys(context)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return _as_records(rows)

    def all_records(self, contexts: Iterable[str] | None = None) -> Records:
        """Every stored record (or those of the given context keys), for the performance panel."""
        query = sa.select(agent_posteriors)
        if contexts is not None:
            query = query.where(agent_posteriors.c.context.in_(list(contexts)))
        with self.engine.connect() as conn:
            return _as_records(conn.execute(query).all())

    def learn(
        self, context: AgentContext, arm: InterventionType, success: bool, delta: float
    ) -> None:
        with self.engine.begin() as conn:
            self.learn_in(conn, context, arm, success, delta)

    def learn_in(
        self,
        conn: Connection,
        context: AgentContext,
        arm: InterventionType,
        success: bool,
        delta: float,
    ) -> None:
        """Add one outcome inside the caller's transaction; increments are atomic in SQL, so
        two servers learning at once both count."""
        table = agent_posteriors
        insert = (
            postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
        )
        now = datetime.now(UTC)
        for key in learned_keys(context):
            stmt = insert.values(
                context=key,
                intervention_type=arm.value,
                successes=float(success),
                failures=float(not success),
                delta_sum=delta,
                delta_squares=delta * delta,
                updated_at=now,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["context", "intervention_type"],
                    set_={
                        "successes": table.c.successes + stmt.excluded.successes,
                        "failures": table.c.failures + stmt.excluded.failures,
                        "delta_sum": table.c.delta_sum + stmt.excluded.delta_sum,
                        "delta_squares": table.c.delta_squares + stmt.excluded.delta_squares,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )


def _as_records(rows: Iterable[sa.Row]) -> dict[tuple[str, InterventionType], ArmRecord]:
    found = {}
    for row in rows:
        try:
            arm = InterventionType(row.intervention_type)
        except ValueError:
            continue  # a type this version does not know
        found[(row.context, arm)] = ArmRecord(
            row.successes, row.failures, row.delta_sum, row.delta_squares
        )
    return found
