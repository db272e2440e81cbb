"""Consumer-group reads of the platform's streams: validate, dead-letter, acknowledge."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter

import redis

from services.core.platform import CONSUMER_GROUP
from services.core.redis_bus import RedisNames
from services.ingest.contracts import (
    PayloadRejected,
    SignalEvent,
    SignalKind,
    decode_entry,
    parse_signal,
    rejection_key,
)

log = logging.getLogger(__name__)

# Called with each valid event and the time Redis stamped on its entry (seconds since epoch).
ApplySignal = Callable[[SignalEvent, float], None]


@dataclass(slots=True)
class ReaderStats:
    accepted: int = 0
    rejected: int = 0
    reclaimed: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    # How old the entries of the last full read were: a backlog's age; 0 when caught up.
    lag_seconds: float = 0.0
    # Entries stamped further ahead of our clock than MAX_AHEAD_SECONDS, taken as of now.
    clamped_ahead: int = 0


# Sequence numbers order entries only within one stream, so two streams' entries of the same
# millisecond have no known order: there, arrivals go first and departures last, as a user
# cannot act after leaving.
_SAME_MS_RANK = {SignalKind.JOIN: 0, SignalKind.LEAVE: 2}


def _entry_order(entry_id: bytes | str, kind: SignalKind) -> tuple[int, int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), _SAME_MS_RANK.get(kind, 1), int(seq or 0)


# Redis stamps entries with its own clock; beyond this skew ahead of ours, a stamp would make a
# session that lives in the future (first seen after last seen, never ending on time).
MAX_AHEAD_SECONDS = 5.0


def entry_time(entry_id: bytes | str) -> float:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0]) / 1000.0


class StreamReader:
    def __init__(
        self,
        client: redis.Redis,
        names: RedisNames,
        consumer: str,
        batch: int,
        dead_letter_maxlen: int,
        cluster: bool = False,
    ) -> None:
        self.client = client
        self.names = names
        self.consumer = consumer
        self.batch = batch
        self.dead_letter_maxlen = dead_letter_maxlen
        self.stats = ReaderStats()
        self._clamp_logged_at = -60.0
        # A cluster refuses one read across keys of several slots: there, each stream alone.
        streams = self.names.signal_streams
        self._read_sets = [[s] for s in streams] if cluster else [streams]
        self.cluster = cluster

    def ensure_groups(self, start_id: str = "$") -> None:
        """Create the consumer group on every stream (and the stream) where missing."""
        for stream in self.names.signal_streams:
            try:
                self.client.xgroup_create(stream, CONSUMER_GROUP, id=start_id, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read(self, apply: ApplySignal, block_ms: int | None) -> int:
        """Read one batch of new entries, apply the valid ones, acknowledge all; returns count.

        `block_ms` None returns at once when nothing is waiting.
        """
        reply: list = []  # type: ignore[type-arg]
        share = None if block_ms is None else max(1, block_ms // len(self._read_sets))
        for streams in self._read_sets:
            try:
                reply += (
                    self.client.xreadgroup(
                        CONSUMER_GROUP,
                        self.consumer,
                        dict.fromkeys(streams, ">"),
                        count=self.batch,
                        block=None if reply else share,
                    )
                    or []
                )
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # Redis lost its data (restart without persistence): whatever is there is new.
                log.warning("consumer group missing (Redis restarted?); recreating it")
                self.ensure_groups(start_id="0")
                return 0
        return self._handle(reply, apply)

    def reclaim(self, apply: ApplySignal, min_idle_ms: int) -> int:
        """Take over entries a dead consumer read but never acknowledged."""
        handled = 0
        for stream in self.names.signal_streams:
            start = "0-0"
            while True:
                try:
                    next_start, entries, *_ = self.client.xautoclaim(
                        stream, CONSUMER_GROUP, self.consumer, min_idle_ms, start, count=self.batch
                    )
                except redis.ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        break
                    raise
                if entries:
                    self.stats.reclaimed += len(entries)
                    handled += self._handle([[stream, entries]], apply)
                start = next_start.decode() if isinstance(next_start, bytes) else next_start
                if start == "0-0":
                    break
        return handled

    def _handle(self, reply: list, apply: ApplySignal) -> int:  # type: ignore[type-arg]
        """Validate and apply one read's entries in the order Redis stamped them, then ack all.

        A read returns each stream's entries separately; applied stream by stream, a reaction
        from just before a user left would be applied after the leave and bring them back.
        """
        pipe = self.client.pipeline(transaction=not self.cluster)
        valid: list[tuple[tuple[int, int, int], SignalEvent, float]] = []
        count = 0
        now = time.time()
        latest = now + MAX_AHEAD_SECONDS
        for stream, entries in reply:
            contract_stream = self.names.contract_stream(stream)
            ack_ids = []
            for entry_id, fields in entries:
                count += 1
                ack_ids.append(entry_id)
                if fields is None:  # trimmed away while pending
                    continue
                try:
                    event = parse_signal(contract_stream, decode_entry(fields))
                except PayloadRejected as exc:
                    self._dead_letter(pipe, contract_stream, entry_id, fields, str(exc))
                    continue
                at = entry_time(entry_id)
                if at > latest:
                    self._clamped(at - now)
                    at = now
                valid.append((_entry_order(entry_id, event.kind), event, at))
            if ack_ids:
                pipe.xack(stream, CONSUMER_GROUP, *ack_ids)
        valid.sort(key=itemgetter(0))
        # A read that filled its batch left more behind: its oldest entry's age is the lag.
        full = count >= self.batch and valid
        self.stats.lag_seconds = max(0.0, now - valid[0][2]) if full else 0.0
        for _, event, at in valid:
            apply(event, at)
        self.stats.accepted += len(valid)
        if count:
            self._commit(pipe)
        return count

    def _clamped(self, ahead: float) -> None:
        self.stats.clamped_ahead += 1
        # One line a minute however many: a skewed clock stamps every entry.
        if time.monotonic() - self._clamp_logged_at >= 60:
            self._clamp_logged_at = time.monotonic()
            log.warning(
                "entries stamped up to %.0f s ahead of this clock are taken as of now "
                "(%d so far): check the clocks of Redis and this host",
                ahead,
                self.stats.clamped_ahead,
            )

    def _commit(self, pipe: redis.client.Pipeline) -> None:  # type: ignore[type-arg]
        """Acknowledge the batch (and dead-letter its rejects); the router adds its appends."""
        pipe.execute()

    def _dead_letter(
        self,
        pipe: redis.client.Pipeline,  # type: ignore[type-arg]
        stream: str,
        entry_id: bytes,
        fields: dict[bytes, bytes],
        reason: str,
    ) -> None:
        self.stats.rejected += 1
        self.stats.rejected_by_reason[rejection_key(reason)] += 1
        dead_letter(pipe, self.names, self.dead_letter_maxlen, stream, entry_id, fields, reason)


# Enough to see what was wrong; 10,000 dead letters must not fill Redis.
MAX_KEPT_BYTES = 4096


def dead_letter(
    pipe: redis.client.Pipeline,  # type: ignore[type-arg]
    names: RedisNames,
    maxlen: int,
    stream: str,
    entry_id: bytes,
    fields: dict[bytes, bytes],
    reason: str,
) -> None:
    """Keep a rejected entry, as it came, with its reason, for inspection."""
    raw = fields.get(b"data")
    if raw is None:
        raw = repr(fields).encode()
    pipe.xadd(
        names.dead_letter,
        {"stream": stream, "entry_id": entry_id, "reason": reason, "data": raw[:MAX_KEPT_BYTES]},
        maxlen=maxlen,
        approximate=True,
    )
