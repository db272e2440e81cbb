"""Redis connections (real or embedded) and the names of every key, stream and channel we use."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import fakeredis
import redis

from services.core.platform import (
    AGENT_CHANNEL,
    ANOMALY_CHANNEL,
    DEAD_LETTER_STREAM,
    ENGAGEMENT_CHANNEL,
    OUTCOME_STREAM,
    PUSH_CHANNEL_PREFIX,
    SIGNAL_STREAMS,
)
from services.core.settings import EMBEDDED

# One in-process server per process, so the demo's collector, simulator and web tier share it.
_EMBEDDED_SERVER = fakeredis.FakeServer()

# Errors that mean "Redis is not there right now", as opposed to a bad command. A cluster
# that lost a master, or is moving slots, says so with errors of its own.
REDIS_DOWN = (
    redis.ConnectionError,
    redis.TimeoutError,
    OSError,
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
)


def connect_redis(url: str, cluster: bool = False) -> redis.Redis:
    if url == EMBEDDED:
        return fakeredis.FakeRedis(server=_EMBEDDED_SERVER)
    # Blocking reads wait up to a second; the socket timeout must outlast them.
    options: dict[str, object] = {"socket_timeout": 10, "socket_connect_timeout": 3}
    if cluster:
        # Partition keys carry hash tags, so every command of ours names keys of one slot.
        return redis.RedisCluster.from_url(url, **options)  # type: ignore[return-value]
    return redis.Redis.from_url(url, health_check_interval=15, retry_on_timeout=False, **options)


@dataclass(frozen=True, slots=True)
class RedisNames:
    """Every Redis name, with the deployment's prefix (empty against the real platform)."""

    prefix: str = ""

    def stream(self, contract_name: str) -> str:
        return self.prefix + contract_name

    def contract_stream(self, name: str | bytes) -> str:
        text = name.decode() if isinstance(name, bytes) else name
        return text[len(self.prefix) :]

    @property
    def signal_streams(self) -> list[str]:
        return [self.stream(name) for name in SIGNAL_STREAMS]

    @property
    def dead_letter(self) -> str:
        return self.prefix + DEAD_LETTER_STREAM

    @property
    def engagement_channel(self) -> str:
        return self.prefix + ENGAGEMENT_CHANNEL

    @property
    def anomaly_channel(self) -> str:
        return self.prefix + ANOMALY_CHANNEL

    def revoked_token(self, token_id: str) -> str:
        """Set while a signed-out sign-in's token would still be valid (services/access)."""
        return f"{self.prefix}engagement-conductor:revoked:{token_id}"

    @property
    def revocation_channel(self) -> str:
        """Each revoked token id, for the push hubs to close that sign-in's live sockets."""
        return f"{self.prefix}engagement-conductor:revocations"

    def push_channel(self, session_id: str) -> str:
        return f"{self.prefix}{PUSH_CHANNEL_PREFIX}{session_id}"

    @property
    def push_pattern(self) -> str:
        # Session ids may hold glob characters; the pattern only ever ends in our own '*'.
        return f"{_escape_glob(self.prefix + PUSH_CHANNEL_PREFIX)}*"

    def session_of_push_channel(self, channel: str | bytes) -> str:
        text = channel.decode() if isinstance(channel, bytes) else channel
        return text[len(self.prefix + PUSH_CHANNEL_PREFIX) :]

    @property
    def agent_channel(self) -> str:
        return self.prefix + AGENT_CHANNEL

    @property
    def outcome_stream(self) -> str:
        return self.prefix + OUTCOME_STREAM

    @property
    def housekeeper_lease(self) -> str:
        """Held by the one collector that runs the deployment-wide chores."""
        return self.prefix + "engagement-conductor:collector:housekeeper"

    @property
    def collectors(self) -> str:
        """Sorted set of running collectors, scored by their last sign of life."""
        return self.prefix + "engagement-conductor:collectors"

    @property
    def collector_reports(self) -> str:
        """Hash of each collector's latest status report (JSON), read by /health."""
        return self.prefix + "engagement-conductor:collectors:status"

    @property
    def writing_counters(self) -> str:
        """Hash of the content writer's counters (generations, fallbacks, tokens) for /metrics."""
        return self.prefix + "engagement-conductor:writing:counters"

    @property
    def collector_losses(self) -> str:
        """Hash of what collectors that died took with them (`rows`: score rows unwritten)."""
        return self.prefix + "engagement-conductor:collectors:losses"

    # An event's alert keys share a hash tag (of a digest: an event id may hold braces), so a
    # transaction over them works on a Redis Cluster too.
    def _alert_key(self, event_id: str, what: str) -> str:
        tag = hashlib.blake2b(event_id.encode(), digest_size=6).hexdigest()
        return f"{self.prefix}engagement-conductor:alerts:{{a{tag}}}:{what}"

    def alert_items(self, event_id: str) -> str:
        """The event's alert items waiting to go out together (a list of JSON)."""
        return self._alert_key(event_id, "items")

    def alert_window(self, event_id: str) -> str:
        """Set while the event's last message is under a minute old: later items wait."""
        return self._alert_key(event_id, "window")

    def alert_dead(self, event_id: str) -> str:
        """Deliveries given up on (a list of JSON, newest first), shown in the settings."""
        return self._alert_key(event_id, "dead")

    def alert_seen(self, key: str) -> str:
        """Set once an item is queued: each episode step, suggestion or outcome goes out once."""
        digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
        return f"{self.prefix}engagement-conductor:alerts:seen:{digest}"

    @property
    def alert_due(self) -> str:
        """Events whose items may go out, scored by when."""
        return self.prefix + "engagement-conductor:alerts:due"

    @property
    def alert_deliveries(self) -> str:
        """Deliveries to (re)try, each a JSON member scored by its next attempt's time."""
        return self.prefix + "engagement-conductor:alerts:deliveries"

    # A partition's keys share a hash tag, so they live on one Redis Cluster slot.
    def _partition_key(self, partition: int, what: str) -> str:
        return f"{self.prefix}engagement-conductor:{{p{partition}}}:{what}"

    def partition_stream(self, partition: int) -> str:
        return self._partition_key(partition, "events")

    def partition_owner(self, partition: int) -> str:
        return self._partition_key(partition, "owner")

    def partition_checkpoint(self, partition: int) -> str:
        return self._partition_key(partition, "checkpoint")

    def partition_marks(self, partition: int) -> str:
        """What the owner had applied at each tick since its checkpoint: a list of marks."""
        return self._partition_key(partition, "marks")

    def partition_handover(self, partition: int) -> str:
        return self._partition_key(partition, "handover")


def _escape_glob(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
