"""Baseline: the schema as `schema_version` 7 left it (every table, no TimescaleDB objects).

Revision ID: 0001
Revises:
Create Date: 2026-12-03

A database made by earlier releases (a `schema_version` table, no `alembic_version`) is adopted
at this revision by services/storage/migrate.py, not created again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.storage.schema import JSONType, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_performance",
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("intervention_id", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("intervention_type", sa.String(length=32), nullable=False),
        sa.Column("context", sa.String(length=200), nullable=False),
        sa.Column("reward", sa.Float(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("engagement_before", sa.Float(), nullable=True),
        sa.Column("engagement_after", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("intervention_id", "time", name="pk_agent_performance"),
    )
    op.create_table(
        "agent_posteriors",
        sa.Column("context", sa.String(length=200), nullable=False),
        sa.Column("intervention_type", sa.String(length=32), nullable=False),
        sa.Column("successes", sa.Float(), nullable=False),
        sa.Column("failures", sa.Float(), nullable=False),
        sa.Column("delta_sum", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("context", "intervention_type", name="pk_agent_posteriors"),
    )
    op.create_table(
        "agent_settings",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("settings", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "anomalies",
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("episode_id", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("anomaly_score", sa.Float(), nullable=False),
        sa.Column("current_engagement", sa.Float(), nullable=False),
        sa.Column("expected_engagement", sa.Float(), nullable=False),
        sa.Column("deviation", sa.Float(), nullable=False),
        sa.Column("signals", JSONType, nullable=False),
        sa.Column("explanation", sa.String(length=1000), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("recovered", sa.Boolean(), nullable=True),
        sa.Column("recovery_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("episode_id", "time", name="pk_anomalies"),
    )
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.create_index("ix_anomalies_session_time", ["session_id", "time"], unique=False)

    op.create_table(
        "embed_token_uses",
        sa.Column("token_id", sa.String(length=255), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_id"),
    )
    with op.batch_alter_table("embed_token_uses", schema=None) as batch_op:
        batch_op.create_index("ix_embed_token_uses_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "engagement_metrics",
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("engagement_score", sa.Float(), nullable=False),
        sa.Column("chat_msgs_per_min", sa.Float(), nullable=False),
        sa.Column("poll_participation", sa.Float(), nullable=False),
        sa.Column("active_users", sa.Integer(), nullable=False),
        sa.Column("reactions_per_min", sa.Float(), nullable=False),
        sa.Column("user_leave_rate", sa.Float(), nullable=False),
        sa.Column("extra", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "time", name="pk_engagement_metrics"),
    )
    with op.batch_alter_table("engagement_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_engagement_metrics_event_time", ["event_id", "time"], unique=False
        )
        batch_op.create_index(
            "ix_engagement_metrics_time", ["time"], unique=False, postgresql_using="brin"
        )

    op.create_table(
        "event_alerts",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("settings", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "event_settings",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("detector", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "interventions",
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("intervention_id", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("content", JSONType, nullable=False),
        sa.Column("outcome", JSONType, nullable=True),
        sa.Column("episode_id", sa.String(length=255), nullable=True),
        sa.Column("anomaly_type", sa.String(length=32), nullable=True),
        sa.Column("context", sa.String(length=200), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("reasoning", sa.String(length=2000), nullable=True),
        sa.Column("preview", sa.String(length=500), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("executed_at", UTCDateTime(), nullable=True),
        sa.Column("measured_at", UTCDateTime(), nullable=True),
        sa.Column("written_by", sa.String(length=100), nullable=True),
        sa.Column("writing", JSONType, nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("intervention_id", "time", name="pk_interventions"),
    )
    with op.batch_alter_table("interventions", schema=None) as batch_op:
        batch_op.create_index("ix_interventions_event_time", ["event_id", "time"], unique=False)
        batch_op.create_index("ix_interventions_session_time", ["session_id", "time"], unique=False)
        batch_op.create_index("ix_interventions_status", ["status", "time"], unique=False)

    op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "session_agent_modes",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("event_title", sa.String(length=500), nullable=True),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_score", sa.Float(), nullable=True),
        sa.Column("present_users", sa.Integer(), nullable=True),
        sa.Column("score_ticks", sa.Integer(), nullable=True),
        sa.Column("score_sum", sa.Float(), nullable=True),
        sa.Column("score_min", sa.Float(), nullable=True),
        sa.Column("ticks_below", JSONType, nullable=True),
        sa.Column("peak_audience", sa.Integer(), nullable=True),
        sa.Column("stats_through", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("session_id"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_event_status", ["event_id", "status"], unique=False)
        batch_op.create_index("ix_sessions_last_seen", ["last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_last_seen")
        batch_op.drop_index("ix_sessions_event_status")

    op.drop_table("sessions")
    op.drop_table("session_agent_modes")
    op.drop_table("schema_version")
    with op.batch_alter_table("interventions", schema=None) as batch_op:
        batch_op.drop_index("ix_interventions_status")
        batch_op.drop_index("ix_interventions_session_time")
        batch_op.drop_index("ix_interventions_event_time")

    op.drop_table("interventions")
    op.drop_table("event_settings")
    op.drop_table("event_alerts")
    with op.batch_alter_table("engagement_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_metrics_time", postgresql_using="brin")
        batch_op.drop_index("ix_engagement_metrics_event_time")

    op.drop_table("engagement_metrics")
    with op.batch_alter_table("embed_token_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_embed_token_uses_expires_at")

    op.drop_table("embed_token_uses")
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index("ix_anomalies_session_time")

    op.drop_table("anomalies")
    op.drop_table("agent_settings")
    op.drop_table("agent_posteriors")
    op.drop_table("agent_performance")
