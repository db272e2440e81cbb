"""Where the sampler's outcome counts live: the database for the product (every server sees the
same state and it survives restarts), a dict for benchmarks. Both count outcomes per context key
and intervention type; `services.agent.thompson` turns the counts into posteriors. An outcome's
lift is taken from its fine context's baseline as it stands when the outcome is learnt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from services.agent.reward import RewardOutcome
from services.agent.thompson import ArmRecord, Records, context_baseline
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

    def learn(self, context: AgentContext, arm: InterventionType, outcome: RewardOutcome) -> None:
        added = _learnt(context, self.records(context), outcome)
        for key in learned_keys(context):
            self.counts[(key, arm)] = self.counts.get((key, arm), ArmRecord()) + added


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

    def learn(self, context: AgentContext, arm: InterventionType, outcome: RewardOutcome) -> None:
        with self.engine.begin() as conn:
            self.learn_in(conn, context, arm, outcome)

    def learn_in(
        self,
        conn: Connection,
        context: AgentContext,
        arm: InterventionType,
        outcome: RewardOutcome,
    ) -> None:
        """Add one outcome inside the caller's transaction; increments are atomic in SQL, so
        two servers learning at once both count. (Two outcomes of one context learnt at the same
        instant both measure their lift from the baseline without the other: a difference of
        one outcome in the baseline's mean, which the next outcomes outweigh.)"""
        table = agent_posteriors
        fine = sa.select(table).where(table.c.context == context.key)
        added = _learnt(context, _as_records(conn.execute(fine).all()), outcome)
        insert = (
            postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
        )
        now = datetime.now(UTC)
        for key in learned_keys(context):
            stmt = insert.values(
                context=key,
                intervention_type=arm.value,
                updated_at=now,
                **{name: getattr(added, name) for name in _COUNTED},
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["context", "intervention_type"],
                    set_={
                        **{name: table.c[name] + stmt.excluded[name] for name in _COUNTED},
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )


# What an outcome adds to: every count of a record, each a column of agent_posteriors.
_COUNTED = tuple(field.name for field in fields(ArmRecord))


def _learnt(context: AgentContext, records: Records, outcome: RewardOutcome) -> ArmRecord:
    """One outcome as a record: its lift is from the context's baseline with it included."""
    baseline = context_baseline(records, context.key, outcome.before)
    return ArmRecord.outcome(
        outcome.success, outcome.delta, outcome.before, outcome.after - baseline
    )


def _as_records(rows: Iterable[sa.Row]) -> dict[tuple[str, InterventionType], ArmRecord]:
    found = {}
    for row in rows:
        try:
            arm = InterventionType(row.intervention_type)
        except ValueError:
            continue  # a type this version does not know
        found[(row.context, arm)] = ArmRecord(**{name: getattr(row, name) for name in _COUNTED})
    return found
