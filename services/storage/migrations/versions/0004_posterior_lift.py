"""agent_posteriors.before_sum, lift_sum, lift_squares: the engagement before each outcome and
its lift over its fine context's baseline, which the sampler now compares
(services/agent/thompson.py, docs/agent.md "Why the lift").

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Every outcome learnt before this revision also has its row in agent_performance (both are
written in one transaction), with the engagement before and after it. The upgrade replays those
rows in time order, as the product would have learnt them: an outcome's lift is its after minus
the mean before of every outcome of its fine context so far, itself included. A coarser
context's sums are its fine contexts'. An outcome a posterior counts but agent_performance does
not hold (none should exist) keeps its change as its lift and is taken to have started at the
mean before of the outcomes held for its context key (every type), so a fine context's baseline
stays where its rooms stood. Plain SQL, so `db upgrade --sql` prints it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("before_sum", "lift_sum", "lift_squares")
HELD = "agent_posteriors_0004_held"

# Each measured outcome with its lift over its fine context's running mean before.
LIFTED = """
    SELECT context, intervention_type, engagement_before AS before_score,
           engagement_after - engagement_before AS delta,
           engagement_after - AVG(engagement_before) OVER (
               PARTITION BY context ORDER BY time, intervention_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS lift
    FROM agent_performance
    WHERE engagement_before IS NOT NULL AND engagement_after IS NOT NULL
"""

# A key's '*' parts match any bucket: 'SUDDEN_DROP|*|ge50|*' holds every fine context of its
# anomaly and audience; a fine key matches itself.
HOLD = f"""
    INSERT INTO {HELD}
    SELECT p.context, p.intervention_type, COUNT(l.lift), COALESCE(SUM(l.before_score), 0),
           COALESCE(SUM(l.lift), 0), COALESCE(SUM(l.lift * l.lift), 0),
           COALESCE(SUM(l.delta), 0), COALESCE(SUM(l.delta * l.delta), 0)
    FROM agent_posteriors p LEFT JOIN ({LIFTED}) l
      ON l.intervention_type = p.intervention_type
     AND l.context LIKE REPLACE(p.context, '*', '%')
    GROUP BY p.context, p.intervention_type
"""


P = "agent_posteriors"
# Outcomes the posterior counts that agent_performance does not hold (GREATEST and two-argument
# MAX are each one dialect's).
MISSING = (
    f"CASE WHEN {P}.successes + {P}.failures > h.n"
    f" THEN {P}.successes + {P}.failures - h.n ELSE 0 END"
)


def _filled(column: str, expression: str) -> str:
    return (
        f"{column} = (SELECT {expression} FROM {HELD} h WHERE h.context = {P}.context"
        f" AND h.intervention_type = {P}.intervention_type)"
    )


FILL = f"UPDATE {P} SET " + ", ".join(
    (
        _filled(
            "before_sum",
            f"h.before_sum + {MISSING} * COALESCE((SELECT SUM(k.before_sum) / SUM(k.n)"
            f" FROM {HELD} k WHERE k.context = h.context AND k.n > 0), 0)",
        ),
        _filled(
            "lift_sum",
            f"h.lift_sum + CASE WHEN {MISSING} > 0 THEN {P}.delta_sum - h.delta_sum ELSE 0 END",
        ),
        _filled(
            "lift_squares",
            f"h.lift_squares + CASE WHEN {MISSING} > 0 AND {P}.delta_squares > h.delta_squares"
            f" THEN {P}.delta_squares - h.delta_squares ELSE 0 END",
        ),
    )
)


def upgrade() -> None:
    with op.batch_alter_table("agent_posteriors") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=False, server_default="0"))
    op.create_table(
        HELD,
        sa.Column("context", sa.String(200)),
        sa.Column("intervention_type", sa.String(32)),
        sa.Column("n", sa.Float()),
        *(
            sa.Column(name, sa.Float())
            for name in ("before_sum", "lift_sum", "lift_squares", "delta_sum", "delta_squares")
        ),
    )
    op.execute(HOLD)
    op.execute(FILL)
    op.drop_table(HELD)


def downgrade() -> None:
    with op.batch_alter_table("agent_posteriors") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
