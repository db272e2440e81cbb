"""agent_posteriors.delta_squares: the sum of squared engagement changes, so the sampler knows
how much one outcome says (services/agent/thompson.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Outcomes learnt before this revision kept no squares. Their spread is taken to be the sampler's
prior spread (PRIOR_SPREAD) around their own mean, which is what the sampler assumes of a type
before it has seen any spread of its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# services.agent.thompson.PRIOR_SPREAD when this revision was written; a migration must not
# change with later code.
PRIOR_SPREAD = 0.15


def upgrade() -> None:
    with op.batch_alter_table("agent_posteriors") as batch:
        batch.add_column(sa.Column("delta_squares", sa.Float(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE agent_posteriors SET delta_squares = delta_sum * delta_sum"
        " / (successes + failures)"
        f" + CASE WHEN successes + failures > 1 THEN (successes + failures - 1)"
        f" * {PRIOR_SPREAD**2!r} ELSE 0 END"
        " WHERE successes + failures > 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("agent_posteriors") as batch:
        batch.drop_column("delta_squares")
