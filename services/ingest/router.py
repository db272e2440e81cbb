"""The routing stage: platform streams in, partition streams out.

Every collector runs one, all in the platform streams' one consumer group, so routing scales by
adding collectors. Each accepted event goes to the stream of its session's partition; rejected
entries are dead-lettered as before. On one Redis the appends and the acknowledgements commit in
one MULTI, so a router killed mid-batch leaves its entries pending and another router routes
them exactly once. On a cluster the keys live on different nodes: appends are sent first, then
the acknowledgements, so a router killed between the two leaves entries that are routed again
(at least once, never lost).
"""

from __future__ import annotations

import time
from collections import defaultdict

import redis

from services.core.partitions import partition_of
from services.core.redis_bus import RedisNames
from services.ingest.contracts import SignalEvent
from services.ingest.partition_entries import RoutedEvent, encode_events
from services.ingest.stream_reader import StreamReader


class Router(StreamReader):
    def __init__(
        self,
        client: redis.Redis,
        names: RedisNames,
        consumer: str,
        batch: int,
        dead_letter_maxlen: int,
        *,
        partitions: int,
        retain_seconds: float,
        cluster: bool = False,
    ) -> None:
        super().__init__(client, names, consumer, batch, dead_letter_maxlen, cluster)
        self.partitions = partitions
        self.retain_ms = int(retain_seconds * 1000)
        self.routed_entries = 0
        self._batch: defaultdict[int, list[RoutedEvent]] = defaultdict(list)

    def route(self, block_ms: int | None) -> int:
        """Route one batch of new platform entries; returns how many entries were read."""
        return self.read(self._collect, block_ms)

    def route_abandoned(self, min_idle_ms: int) -> int:
        """Route what a dead router read and never acknowledged."""
        return self.reclaim(self._collect, min_idle_ms)

    def _collect(self, event: SignalEvent, at: float) -> None:
        self._batch[partition_of(event.session_id, self.partitions)].append((event, at))

    def _commit(self, pipe: redis.client.Pipeline) -> None:  # type: ignore[type-arg]
        batch, self._batch = self._batch, defaultdict(list)
        # Trimming by age keeps what a new owner replays; older entries are in its checkpoint.
        oldest = f"{int(time.time() * 1000) - self.retain_ms}-0"
        appends = pipe if not self.cluster else self.client.pipeline(transaction=False)
        for partition, events in batch.items():
            appends.xadd(
                self.names.partition_stream(partition),
                encode_events(events),  # type: ignore[arg-type]
                minid=oldest,
                approximate=True,
            )
        if appends is not pipe:
            appends.execute()
        pipe.execute()
        self.routed_entries += len(batch)
