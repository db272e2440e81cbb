"""agent_posteriors: the fall level (anomaly type x audience x deviation) that fine contexts now
borrow from (services/agent/thompson.py, docs/agent.md "Pooling").

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Its counts are the sums of the fine contexts' rows below it, so a deployment keeps everything it
learnt: the fall level starts where it would be had it been counted from the first outcome.
Plain SQL, the same on PostgreSQL and SQLite, so `db upgrade --sql` prints it too.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# services.core.vocabulary.ENGAGEMENT_BUCKETS' names when this revision was written; a migration
# must not change with later code. A fine key is "anomaly|engagement|audience|deviation" and the
# only part of it between bars that can be one of these is the engagement.
ENGAGEMENT_NAMES = ("very-low", "low", "moderate+")


def _fall_key() -> str:
    expression = "context"
    for name in ENGAGEMENT_NAMES:
        expression = f"REPLACE({expression}, '|{name}|', '|*|')"
    return expression


def upgrade() -> None:
    # A fine key holds no "*"; every coarser one holds "|*|".
    op.execute(
        "INSERT INTO agent_posteriors (context, intervention_type, successes, failures,"
        " delta_sum, delta_squares, updated_at)"
        f" SELECT {_fall_key()}, intervention_type, SUM(successes), SUM(failures),"
        " SUM(delta_sum), SUM(delta_squares), MAX(updated_at)"
        " FROM agent_posteriors WHERE context NOT LIKE '%|*|%'"
        f" GROUP BY {_fall_key()}, intervention_type"
    )


def downgrade() -> None:
    # The fall level's keys are the coarse ones whose deviation is not "*".
    op.execute("DELETE FROM agent_posteriors WHERE context LIKE '%|*|%' AND context NOT LIKE '%|*'")
