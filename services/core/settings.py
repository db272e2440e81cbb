"""Runtime settings from the environment (and `.env`), validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EMBEDDED = "embedded"
SESSIONS_PER_TICK_SECOND = 2000
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")
# What frame-ancestors accepts as a host source, without paths: a bare "*" is refused on purpose.
_ORIGIN_RE = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")


# Late rows (a backlog flushed after an outage) within this window are re-aggregated by the
# refresh policy; the raw retention must be longer, or a refresh would erase buckets.
REFRESH_WINDOW_DAYS = 7
MIN_METRICS_RETENTION_DAYS = REFRESH_WINDOW_DAYS + 1


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    metrics_retention_days: int = 0  # 0: keep raw score rows forever
    aggregate_retention_days: int = 0  # 0: keep aggregate buckets forever
    compress_after_days: int = 7  # 0: never compress

    def __post_init__(self) -> None:
        raw, aggregate = self.metrics_retention_days, self.aggregate_retention_days
        if raw and raw < MIN_METRICS_RETENTION_DAYS:
            raise ValueError(
                f"METRICS_RETENTION_DAYS must be 0 (keep) or at least {MIN_METRICS_RETENTION_DAYS}"
            )
        if aggregate and (not raw or aggregate < raw):
            raise ValueError(
                "AGGREGATE_RETENTION_DAYS must be 0 (keep) or at least METRICS_RETENTION_DAYS, "
                "with METRICS_RETENTION_DAYS set"
            )


class ScoreWeights(BaseSettings):
    """Weights and caps of the engagement score (design §5); the leave rate subtracts."""

    model_config = SettingsConfigDict(env_prefix="SCORE_", env_file=".env", extra="ignore")

    chat: float = Field(0.30, ge=0, le=1)
    poll: float = Field(0.25, ge=0, le=1)
    active: float = Field(0.25, ge=0, le=1)
    reactions: float = Field(0.10, ge=0, le=1)
    leave: float = Field(0.10, ge=0, le=1)
    # The attentive share of the viewers who report attention (design §2). 0: the seed's
    # formula; where a platform sends no attention, this weight goes to the other terms.
    attention: float = Field(0.0, ge=0, le=1)
    chat_cap_per_min: float = Field(20.0, gt=0)
    reactions_cap_per_min: float = Field(10.0, gt=0)
    # A session with no poll running would otherwise lose a quarter of its score for something
    # nobody in the room could do; its weight is shared out over the other positive terms.
    redistribute_idle_poll_weight: bool = True

    @model_validator(mode="after")
    def _positive_total(self) -> ScoreWeights:
        if self.chat + self.poll + self.active + self.reactions <= 0:
            raise ValueError("at least one positive score weight must be above 0")
        return self


class Settings(BaseSettings):
    """Operator-facing settings; every name matches an environment variable (design §7)."""

    # An empty variable is an unset one: compose passes `${VAR:-}` through as "".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    database_url: str = Field(
        "sqlite:///engagement_conductor.sqlite3",
        description="SQLAlchemy URL: sqlite:///file, or postgresql+psycopg://user@host/db",
    )
    redis_url: str = Field(
        EMBEDDED, description="redis://host:port/db, or 'embedded' for an in-process Redis"
    )
    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    tick_seconds: float = Field(5.0, ge=0.2, le=300)
    collector_enabled: bool = Field(True, description="run a collector in each server process")
    migrate_on_start: bool = Field(
        False, description="`serve` and `collect` upgrade an older database schema at start"
    )
    web_workers: int = Field(2, ge=1, le=64, description="server processes for `serve`")
    chart_points: int = Field(60, ge=2, le=2000)
    rate_window_seconds: float = Field(60.0, gt=0, le=3600)
    active_window_seconds: float = Field(120.0, gt=0, le=3600)
    poll_idle_seconds: float = Field(600.0, gt=0)
    session_idle_seconds: float = Field(900.0, gt=0)
    session_empty_seconds: float = Field(60.0, gt=0)
    redis_key_prefix: str = Field(
        "", description="prepended to every stream, channel and key; empty for the platform"
    )
    consumer_name: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        min_length=1,
        max_length=200,
    )
    read_batch: int = Field(500, ge=1, le=10_000)
    reclaim_idle_seconds: float = Field(60.0, gt=0)
    lease_seconds: float = Field(15.0, ge=1, le=600)
    partitions: int = Field(
        64, ge=1, le=1024, description="partitions the live sessions are spread over"
    )
    checkpoint_seconds: float = Field(
        60.0, ge=1, le=3600, description="how often each partition's live state is saved"
    )
    partition_retain_seconds: float = Field(
        180.0,
        ge=10,
        le=86_400,
        description="how long routed events are kept for rebuilding state on a handover",
    )
    redis_cluster: bool = Field(False, description="REDIS_URL names a Redis Cluster node")
    write_buffer_rows: int = Field(500_000, ge=1000)
    dead_letter_maxlen: int = Field(10_000, ge=100)
    agent_reward_delay_seconds: float = Field(
        90.0,
        ge=10,
        le=3600,
        description="how long after an intervention its effect is measured (the engagement in "
        "its last two thirds against the 30 s before)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per line, with the request's id"
    )
    auth_secret: SecretStr | None = Field(
        None, description="HS256 secret shared with the event platform for signed tokens"
    )

    allow_open_access: bool = Field(
        False, description="let `serve` run without AUTH_SECRET: everyone is a producer"
    )
    secure_cookies: bool = Field(False, description="mark the sign-in cookie Secure (HTTPS)")
    embed_allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="comma-separated origins (https://platform.example, https://*.example.com)"
        " whose pages may frame /embed/ panels; empty: none may",
    )
    metrics_retention_days: int = Field(
        0, ge=0, le=36500, description="days raw score rows are kept; 0 keeps them forever"
    )
    aggregate_retention_days: int = Field(
        0, ge=0, le=36500, description="TimescaleDB: days 1-min/1-h buckets are kept; 0: forever"
    )
    compress_after_days: int = Field(
        7, ge=0, le=36500, description="TimescaleDB: compress score chunks this old; 0: never"
    )
    metrics_allowed_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        ("127.0.0.1/32", "::1/128"),
        description="comma-separated networks (CIDR) whose addresses may scrape /metrics",
    )
    collect_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="the port `collect` serves its own /metrics on, for METRICS_ALLOWED_NETWORKS "
        "(unset: none; `serve` has /metrics on its own port)",
    )
    token_max_ttl_seconds: int = Field(
        12 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="the longest a producer's or analyst's token may be signed to live for this "
        "server to accept it (sign-in links and API tokens)",
    )
    embed_cookie_seconds: int = Field(
        8 * 3600, ge=60, le=7 * 24 * 3600, description="how long an opened panel stays signed in"
    )
    # The Anthropic SDK's own variables: with a key, interventions are written by a model.
    anthropic_api_key: SecretStr | None = Field(
        None, description="turns on the language-model content writer (events may opt out)"
    )
    anthropic_base_url: str | None = Field(
        None, description="the Messages API's address; the SDK's default when unset"
    )
    content_model: str = Field(
        "claude-sonnet-5-5", min_length=1, max_length=100, description="the writer's first model"
    )
    content_fallback_model: str = Field(
        "claude-haiku-5-5",
        max_length=100,
        description="the faster model tried when the first fails; empty: none",
    )
    content_call_timeout_seconds: float = Field(
        4.0, ge=0.5, le=60, description="one call to one model"
    )
    content_deadline_seconds: float = Field(
        6.0,
        ge=0.5,
        le=60,
        description="the whole writing, fallback included; AUTO decisions wait no longer",
    )
    content_token_budget: int = Field(
        200_000,
        ge=0,
        le=10**10,
        description="tokens each event may spend on writing, unless its settings say otherwise",
    )
    content_breaker_failures: int = Field(
        3, ge=1, le=100, description="failed calls in a row that pause the writer"
    )
    content_breaker_cooldown_seconds: float = Field(
        60.0, ge=1, le=3600, description="how long the writer pauses before trying again"
    )
    # Alerts out of band (docs/alerts.md): recipients are per event, the transport is here.
    smtp_host: str | None = Field(None, description="the mail server for alert e-mails")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = Field("engagement-conductor@localhost", min_length=3, max_length=200)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(False, description="upgrade the connection with STARTTLS")
    alert_group_seconds: float = Field(
        60.0, ge=1, le=3600, description="an event's alerts within this long go in one message"
    )
    alert_webhooks_private: bool = Field(
        False, description="let webhooks reach private and loopback addresses"
    )
    max_live_sessions: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="live sessions one collector takes on; unset: 2,000 per second of tick",
    )
    max_event_sessions: int = Field(
        2_000, ge=1, le=1_000_000, description="live sessions of one event one collector takes on"
    )
    sockets_per_process: int = Field(
        800,
        ge=1,
        le=100_000,
        description="live sockets one server process holds; `serve` gives each worker 200 "
        "connections more, kept for pages and /health/ready",
    )
    sockets_per_sign_in: int = Field(20, ge=1, le=100_000, description="per sign-in, per process")
    sockets_per_session: int = Field(1000, ge=1, le=100_000, description="per session, per process")
    health_pending_rows: int = Field(
        100_000, ge=1, description="/health is degraded with more score rows waiting than this"
    )
    health_ingest_lag_seconds: float = Field(
        30.0, gt=0, le=3600, description="/health is degraded reading events older than this"
    )
    health_memory_mb: float = Field(
        2048.0, gt=0, description="/health is degraded when a collecting process uses more"
    )
    public_url: str | None = Field(
        None, description="this server's address as organisers reach it, for links in alerts"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("DATABASE_URL must be an sqlite:/// or postgresql:// URL")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the only PostgreSQL driver we ship.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str) -> str:
        if value != EMBEDDED and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "REDIS_URL must be redis://host:port/db, rediss://, unix:// or 'embedded'"
            )
        return value

    @field_validator("auth_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Anyone holding one signed token could otherwise guess a short secret offline.
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("AUTH_SECRET must be at least 32 characters")
        return value

    @field_validator("embed_allowed_origins", "metrics_allowed_networks", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("embed_allowed_origins")
    @classmethod
    def _framing_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "'self'" and not _ORIGIN_RE.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: use scheme://host[:port] "
                    "(https://platform.example, https://*.example.com) or 'self'"
                )
        return value

    @field_validator("metrics_allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network)
            except ValueError:
                raise ValueError(
                    f"{network!r} is not a network: use an address or CIDR (10.0.0.0/8, ::1)"
                ) from None
        return value

    @field_validator("anthropic_base_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("redis_key_prefix")
    @classmethod
    def _safe_prefix(cls, value: str) -> str:
        if not _PREFIX_RE.match(value):
            raise ValueError("REDIS_KEY_PREFIX may hold at most 64 of A-Z a-z 0-9 _ . : -")
        return value

    @model_validator(mode="after")
    def _windows_cover_a_tick(self) -> Settings:
        if self.rate_window_seconds < self.tick_seconds:
            raise ValueError("RATE_WINDOW_SECONDS must be at least TICK_SECONDS")
        if self.active_window_seconds < self.tick_seconds:
            raise ValueError("ACTIVE_WINDOW_SECONDS must be at least TICK_SECONDS")
        return self

    @model_validator(mode="after")
    def _replay_covers_a_handover(self) -> Settings:
        # A new owner rebuilds from the last checkpoint plus what came after it; both must still
        # be in the partition stream when a dead owner's lease has run out.
        needed = 2 * self.checkpoint_seconds + self.lease_seconds
        if self.partition_retain_seconds < needed:
            raise ValueError(
                "PARTITION_RETAIN_SECONDS must be at least 2 x CHECKPOINT_SECONDS + LEASE_SECONDS"
                f" ({needed:g} s with these settings)"
            )
        if self.checkpoint_seconds < self.tick_seconds:
            raise ValueError("CHECKPOINT_SECONDS must be at least TICK_SECONDS")
        if self.redis_cluster and self.embedded_redis:
            raise ValueError("REDIS_CLUSTER needs a REDIS_URL naming a cluster node")
        return self

    @model_validator(mode="after")
    def _storage_policy_holds(self) -> Settings:
        self.storage_policy()
        return self

    def storage_policy(self) -> StoragePolicy:
        return StoragePolicy(
            metrics_retention_days=self.metrics_retention_days,
            aggregate_retention_days=self.aggregate_retention_days,
            compress_after_days=self.compress_after_days,
        )

    @cached_property
    def score(self) -> ScoreWeights:
        return ScoreWeights()

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url == EMBEDDED

    @property
    def live_session_limit(self) -> int:
        """Measured (bench/overload.py): a session costs about 0.09 ms of each tick on a
        2-core machine, so 2,000 per tick-second keeps a tick near a fifth of its length."""
        if self.max_live_sessions is not None:
            return self.max_live_sessions
        return max(1, round(SESSIONS_PER_TICK_SECOND * self.tick_seconds))

    @property
    def writer_enabled(self) -> bool:
        key = self.anthropic_api_key
        return key is not None and bool(key.get_secret_value().strip())


class SettingsError(ValueError):
    """Settings that cannot run, with one line per problem naming the variable."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, with keyword overrides; one line per problem."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        _ = settings.score
    except ValidationError as exc:
        prefix = "SCORE_" if exc.title == ScoreWeights.__name__ else ""
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{prefix}{where.upper()}: {message}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
    return settings
