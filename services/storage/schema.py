"""One schema for SQLite (embedded), PostgreSQL and PostgreSQL with TimescaleDB (design §4)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

ID_LENGTH = 255

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend; SQLite would otherwise hand back naive values."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

# Releases before migrations kept their schema's version here (7 is the last: migrate.py adopts
# such a database at revision 0001); the revisions are Alembic's now.
schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("event_id", sa.String(ID_LENGTH)),
    sa.Column("title", sa.String(500)),
    sa.Column("event_title", sa.String(500)),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("last_score", sa.Float),
    sa.Column("present_users", sa.Integer),
    # Settled figures over the session's score rows up to `stats_through`, kept by
    # services/storage/session_stats.py so analysts can filter and sort thousands of sessions
    # on them.
    sa.Column("score_ticks", sa.Integer),
    sa.Column("score_sum", sa.Float),
    sa.Column("score_min", sa.Float),
    # Ticks scored below 0.05, 0.10, … 0.95 (cumulative): "time below a threshold" on any of them.
    sa.Column("ticks_below", JSONType),
    sa.Column("peak_audience", sa.Integer),
    sa.Column("stats_through", UTCDateTime),
    sa.Index("ix_sessions_event_status", "event_id", "status"),
    sa.Index("ix_sessions_last_seen", "last_seen"),
)

engagement_metrics = sa.Table(
    "engagement_metrics",
    metadata,
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("session_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("event_id", sa.String(ID_LENGTH)),
    sa.Column("engagement_score", sa.Float, nullable=False),
    sa.Column("chat_msgs_per_min", sa.Float, nullable=False),
    sa.Column("poll_participation", sa.Float, nullable=False),
    sa.Column("active_users", sa.Integer, nullable=False),
    sa.Column("reactions_per_min", sa.Float, nullable=False),
    sa.Column("user_leave_rate", sa.Float, nullable=False),
    sa.Column("extra", JSONType, nullable=False),
    sa.PrimaryKeyConstraint("session_id", "time", name="pk_engagement_metrics"),
    sa.Index("ix_engagement_metrics_event_time", "event_id", "time"),
    # Retention finds old rows by time alone; BRIN stays tiny on append-ordered rows.
    sa.Index("ix_engagement_metrics_time", "time", postgresql_using="brin"),
)

anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("time", UTCDateTime, nullable=False),  # when the episode started
    sa.Column("episode_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("session_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("event_id", sa.String(ID_LENGTH)),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),  # the highest reached
    sa.Column("anomaly_score", sa.Float, nullable=False),
    sa.Column("current_engagement", sa.Float, nullable=False),
    sa.Column("expected_engagement", sa.Float, nullable=False),
    sa.Column("deviation", sa.Float, nullable=False),
    sa.Column("signals", JSONType, nullable=False),
    sa.Column("explanation", sa.String(1000), nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("recovered", sa.Boolean),
    sa.Column("recovery_seconds", sa.Float),
    sa.PrimaryKeyConstraint("episode_id", "time", name="pk_anomalies"),
    sa.Index("ix_anomalies_session_time", "session_id", "time"),
)

event_settings = sa.Table(
    "event_settings",
    metadata,
    sa.Column("event_id", sa.String(ID_LENGTH), primary_key=True),
    # Overrides of the anomaly detector's defaults for this event's sessions.
    sa.Column("detector", JSONType, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

interventions = sa.Table(
    "interventions",
    metadata,
    sa.Column("time", UTCDateTime, nullable=False),  # when it was proposed or triggered
    sa.Column("intervention_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("session_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("event_id", sa.String(ID_LENGTH)),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("confidence", sa.Float),
    sa.Column("content", JSONType, nullable=False),
    sa.Column("outcome", JSONType),
    # Added in schema 3 (nullable, so an older table gains them in place).
    sa.Column("episode_id", sa.String(ID_LENGTH)),
    sa.Column("anomaly_type", sa.String(32)),
    sa.Column("context", sa.String(200)),
    sa.Column("mode", sa.String(16)),
    sa.Column("reasoning", sa.String(2000)),
    sa.Column("preview", sa.String(500)),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("note", sa.String(1000)),  # why it was refused, dismissed or failed
    sa.Column("expires_at", UTCDateTime),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("executed_at", UTCDateTime),
    sa.Column("measured_at", UTCDateTime),
    # Added in schema 6: "template" or the model that wrote the content; the writing's model,
    # tokens, latency and fallback reason (never the prompt, the chat or the answer); its tokens
    # in total, summed against the event's budget.
    sa.Column("written_by", sa.String(100)),
    sa.Column("writing", JSONType),
    sa.Column("tokens", sa.Integer),
    sa.PrimaryKeyConstraint("intervention_id", "time", name="pk_interventions"),
    sa.Index("ix_interventions_session_time", "session_id", "time"),
    sa.Index("ix_interventions_status", "status", "time"),
    sa.Index("ix_interventions_event_time", "event_id", "time"),
)

agent_performance = sa.Table(
    "agent_performance",
    metadata,
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("intervention_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("session_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("event_id", sa.String(ID_LENGTH)),
    sa.Column("intervention_type", sa.String(32), nullable=False),
    sa.Column("context", sa.String(200), nullable=False),
    sa.Column("reward", sa.Float, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("engagement_before", sa.Float),
    sa.Column("engagement_after", sa.Float),
    sa.PrimaryKeyConstraint("intervention_id", "time", name="pk_agent_performance"),
)

agent_posteriors = sa.Table(
    "agent_posteriors",
    metadata,
    # An AgentContext key, fine ("SUDDEN_DROP|low|ge50|dev<25%") or coarse ("SUDDEN_DROP|*|ge50|*").
    sa.Column("context", sa.String(200), nullable=False),
    sa.Column("intervention_type", sa.String(32), nullable=False),
    sa.Column("successes", sa.Float, nullable=False),
    sa.Column("failures", sa.Float, nullable=False),
    sa.Column("delta_sum", sa.Float, nullable=False),
    # Sum of squared deltas: the spread of one type's outcomes in a context (migration 0003).
    sa.Column("delta_squares", sa.Float, nullable=False, server_default="0"),
    # The engagement before each outcome, and its lift over the fine context's baseline with the
    # lift's squares: what the sampler compares (services/agent/thompson.py, migration 0004).
    sa.Column("before_sum", sa.Float, nullable=False, server_default="0"),
    sa.Column("lift_sum", sa.Float, nullable=False, server_default="0"),
    sa.Column("lift_squares", sa.Float, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("context", "intervention_type", name="pk_agent_posteriors"),
)

agent_settings = sa.Table(
    "agent_settings",
    metadata,
    sa.Column("event_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("settings", JSONType, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Who hears about an event's anomalies and decisions when nobody watches a page (email, webhooks
# with their signing secrets), and about what: services/storage/alert_settings.py.
event_alerts = sa.Table(
    "event_alerts",
    metadata,
    sa.Column("event_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("settings", JSONType, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

session_agent_modes = sa.Table(
    "session_agent_modes",
    metadata,
    sa.Column("session_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Embed tokens are single use: each redeemed token id is kept until the token would have expired
# anyway, so a replay within its lifetime finds it here.
embed_token_uses = sa.Table(
    "embed_token_uses",
    metadata,
    sa.Column("token_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_embed_token_uses_expires_at", "expires_at"),
)

# Time-partitioned tables when TimescaleDB is present; each key above includes `time`, as
# hypertables require of every unique index.
HYPERTABLES = ("engagement_metrics", "anomalies", "interventions", "agent_performance")
