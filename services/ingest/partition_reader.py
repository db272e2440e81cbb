"""An owner's reads of its partitions' streams: new entries in the owners' consumer group, and
the replay of retained entries that rebuilds a partition's state when it changes hands."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import redis

from services.core.redis_bus import RedisNames
from services.ingest.contracts import PayloadRejected, rejection_key
from services.ingest.partition_entries import RoutedEvent, decode_events
from services.ingest.stream_reader import ReaderStats, dead_letter

log = logging.getLogger(__name__)

OWNER_GROUP = "engagement-conductor-owner"
# Called with the partition, the entry's id and its events, in the stream's order.
ApplyRouted = Callable[[int, str, list[RoutedEvent]], None]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PartitionReader:
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
        self.cluster = cluster
        self.stats = ReaderStats()

    def read(self, partitions: Sequence[int], apply: ApplyRouted) -> int:
        """Apply and acknowledge the new entries of `partitions` (never blocks); entry count."""
        if not partitions:
            return 0
        streams = {self.names.partition_stream(p): p for p in partitions}
        if self.cluster:
            pipe = self.client.pipeline(transaction=False)
            for stream in streams:
                pipe.xreadgroup(OWNER_GROUP, self.consumer, {stream: ">"}, count=self.batch)
            replies = pipe.execute(raise_on_error=False)
        else:
            replies = [self._read_all(streams)]
        handled = 0
        ack = self.client.pipeline(transaction=False)
        for reply in replies:
            if isinstance(reply, Exception):
                self._lost_group(reply, streams)
                continue
            for stream, entries in reply or []:
                partition = streams[_text(stream)]
                handled += len(entries)
                self._apply_entries(partition, entries, apply, ack)
                ack.xack(stream, OWNER_GROUP, *(entry_id for entry_id, _ in entries))
        if handled:
            ack.execute()
        return handled

    def _read_all(self, streams: dict[str, int]) -> list:  # type: ignore[type-arg]
        try:
            return self.client.xreadgroup(
                OWNER_GROUP, self.consumer, dict.fromkeys(streams, ">"), count=self.batch
            )
        except redis.ResponseError as exc:
            self._lost_group(exc, streams)
            return []

    def _lost_group(self, exc: Exception, streams: dict[str, int]) -> None:
        if "NOGROUP" not in str(exc):
            raise exc
        # Redis lost its data (a restart without persistence): whatever is there now is new.
        log.warning("partition consumer group missing (Redis restarted?); recreating it")
        for stream in streams:
            self._create_group(stream, "0")

    def replay(self, partition: int, after: str) -> Iterator[tuple[str, list[RoutedEvent]]]:
        """The retained entries after `after` (exclusive), oldest first; malformed ones skipped
        (the owners' group dead-letters them when it reads them)."""
        stream = self.names.partition_stream(partition)
        start = f"({after}" if after != "0-0" else "-"
        while True:
            entries = self.client.xrange(stream, start, "+", count=self.batch)
            for entry_id, fields in entries:
                try:
                    events = decode_events(fields)
                except PayloadRejected:
                    continue
                yield _text(entry_id), events
            if len(entries) < self.batch:
                return
            start = f"({_text(entries[-1][0])}"

    def settle(self, partition: int, last_applied: str) -> int:
        """Point the owners' group of a newly taken partition just past what its replay applied,
        and acknowledge what a previous owner read and left: the replay applied that too."""
        stream = self.names.partition_stream(partition)
        if not self._create_group(stream, last_applied):
            self.client.xgroup_setid(stream, OWNER_GROUP, last_applied)
        settled = 0
        start = "0-0"
        while True:
            start_id, claimed, *_ = self.client.xautoclaim(
                stream, OWNER_GROUP, self.consumer, 0, start, count=self.batch
            )
            if claimed:
                ids = [entry_id for entry_id, _ in claimed]
                settled += self.client.xack(stream, OWNER_GROUP, *ids)
            start = _text(start_id)
            if start == "0-0":
                return settled

    def _create_group(self, stream: str, at: str) -> bool:
        try:
            self.client.xgroup_create(stream, OWNER_GROUP, id=at, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    def _apply_entries(
        self,
        partition: int,
        entries: list,  # type: ignore[type-arg]
        apply: ApplyRouted,
        pipe: redis.client.Pipeline,  # type: ignore[type-arg]
    ) -> None:
        for entry_id, fields in entries:
            if fields is None:  # trimmed away while pending
                continue
            try:
                events = decode_events(fields)
            except PayloadRejected as exc:
                self.stats.rejected += 1
                self.stats.rejected_by_reason[rejection_key(str(exc))] += 1
                stream = self.names.partition_stream(partition)
                raw = fields.get(b"e", fields.get("e")) or repr(fields).encode()
                dead_letter(
                    pipe,
                    self.names,
                    self.dead_letter_maxlen,
                    stream,
                    entry_id,
                    {b"data": raw if isinstance(raw, bytes) else str(raw).encode()},
                    str(exc),
                )
                continue
            self.stats.accepted += len(events)
            apply(partition, _text(entry_id), events)
