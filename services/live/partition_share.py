"""This collector's share of the partitions: taking them (rebuilding their state), keeping them,
handing them back, and saving what a successor needs after every tick."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass

import redis

from services.core import instruments
from services.core.partitions import partition_of, quota, search_order, to_release
from services.core.redis_bus import RedisNames
from services.ingest.partition_entries import RoutedEvent
from services.ingest.partition_reader import PartitionReader
from services.live.checkpoints import Checkpoint, CheckpointStore, Mark
from services.live.ownership import PartitionLeases
from services.live.session_book import SessionBook, TickOutput

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Owned:
    last_id: str  # the last partition-stream entry applied
    scored_through: float | None  # the newest tick anyone scored for this partition


@dataclass(frozen=True, slots=True)
class Handover:
    partition: int
    previous: str | None
    kind: str  # "first", "handed over" (a clean release) or "lease ran out"
    restored_sessions: int
    replayed_entries: int
    replayed_ticks: int
    late_ticks: int  # ticks nobody had scored, scored on taking it
    took_ms: float


def _id_after(a: str, b: str) -> bool:
    """Stream ids compare as (milliseconds, sequence), not as text."""
    am, _, aseq = a.partition("-")
    bm, _, bseq = b.partition("-")
    return (int(am), int(aseq or 0)) > (int(bm), int(bseq or 0))


class PartitionShare:
    def __init__(
        self,
        client: redis.Redis,
        names: RedisNames,
        book: SessionBook,
        reader: PartitionReader,
        checkpoints: CheckpointStore,
        leases: PartitionLeases,
        *,
        tick_seconds: float,
        checkpoint_seconds: float,
    ) -> None:
        self.client = client
        self.names = names
        self.book = book
        self.reader = reader
        self.checkpoints = checkpoints
        self.leases = leases
        self.partitions = leases.partitions
        self.tick_seconds = tick_seconds
        self.checkpoint_every = max(1, round(checkpoint_seconds / tick_seconds))
        self.owned: dict[int, Owned] = {}
        self.members: list[str] = []
        # Until then, every owned lease is ours for sure; past it, another may hold it.
        self.valid_until = 0.0
        # Until then, free partitions are left alone (after a reconnect: see the collector).
        self.hold_free_until = 0.0
        self.handovers: list[Handover] = []
        self.last_tick: float | None = None
        # Ticks scored late for partitions just taken: the collector writes and publishes them.
        self.late_ticks: list[TickOutput] = []
        # Ticks of partitions taken over that nobody scored and that were too many to make up.
        self.unscored_ticks = 0
        self.max_late_ticks = math.ceil(leases.lease_seconds / tick_seconds) + 2

    @property
    def me(self) -> str:
        return self.leases.me

    def partition(self, session_id: str) -> int:
        return partition_of(session_id, self.partitions)

    # -- the ownership turn -----------------------------------------------------------------

    def turn(self, now: float) -> None:
        """Renew, then balance: hand back beyond the even share, take free ones up to it."""
        self.members = self.leases.members(now)
        if self.owned:
            kept = self.leases.renew(sorted(self.owned))
            lost = set(self.owned) - kept
            if lost:
                log.warning("collector %s lost partitions %s to another", self.me, sorted(lost))
                instruments.lease_changes.labels(change="lost").inc(len(lost))
                self._let_go(lost)
        self.valid_until = now + self.leases.lease_seconds * 2 / 3
        wanted = quota(self.me, self.members, self.partitions)
        excess = to_release(self.owned, wanted)
        if excess:
            self.hand_back(excess)
        elif len(self.owned) < wanted and now >= self.hold_free_until:
            self._take_free(wanted - len(self.owned))

    def _take_free(self, count: int) -> None:
        owners = self.leases.owners()
        for partition in search_order(self.me, self.members, self.partitions):
            if count == 0:
                return
            if owners[partition] is None and self.leases.take(partition):
                self._restore(partition)
                count -= 1

    def hand_back(self, partitions: list[int]) -> None:
        """Save each partition's state, then free it: a successor rebuilds it at once."""
        self.save(partitions)
        pipe = self.client.pipeline(transaction=False)
        for partition in partitions:
            released = {"released_by": self.me, "at": time.time()}
            pipe.set(self.names.partition_handover(partition), json.dumps(released))
        pipe.execute()
        self.leases.release(partitions)
        self._let_go(set(partitions))
        instruments.lease_changes.labels(change="handed_back").inc(len(partitions))
        log.info("collector %s handed back partitions %s", self.me, partitions)

    def hand_back_all(self) -> None:
        if self.owned:
            self.hand_back(sorted(self.owned))
        self.leases.leave()

    def _let_go(self, partitions: set[int]) -> None:
        self.book.drop(self.book.sessions_where(lambda s: self.partition(s) in partitions))
        for partition in partitions:
            self.owned.pop(partition, None)

    # -- rebuilding a partition ---------------------------------------------------------------

    def _restore(self, partition: int) -> None:
        started = time.perf_counter()
        before = self._previous_owner(partition)
        checkpoint = self.checkpoints.load(partition)
        spare = self.book.spare()
        after, since = "0-0", None
        if checkpoint is not None:
            spare.adopt(checkpoint.state)
            after, since = checkpoint.last_id, checkpoint.boundary
        marks = sorted(
            (m for m in self.checkpoints.marks(partition) if since is None or m.boundary > since),
            key=lambda m: m.boundary,
        )
        scored = marks[-1].boundary if marks else since
        # Ticks this collector scored for its other partitions and nobody scored for this one
        # (its owner died, or stopped just before one): scored now, late, as they would have
        # been, so a handover leaves no hole in the rows.
        late = self._missed_since(scored)
        late_count = len(late)
        if late:
            scored = late[-1]
        last, replayed, ticked = after, 0, 0
        for entry_id, events in self.reader.replay(partition, after):
            # The old owner scored these ticks before it applied this entry.
            while ticked < len(marks) and _id_after(entry_id, marks[ticked].last_id):
                spare.score_tick(marks[ticked].boundary)
                ticked += 1
            for event, at in events:
                # Events after a missed boundary would have come after its tick.
                while ticked == len(marks) and late and at > late[0]:
                    self.late_ticks.append(spare.score_tick(late.pop(0)))
                spare.apply(event, at)
            last, replayed = entry_id, replayed + 1
        for mark in marks[ticked:]:
            spare.score_tick(mark.boundary)
        while late:
            self.late_ticks.append(spare.score_tick(late.pop(0)))
        self.reader.settle(partition, last)
        self.book.adopt(spare.export(set(spare.windows)))
        self.owned[partition] = Owned(last_id=last, scored_through=scored)
        handover = Handover(
            partition=partition,
            previous=before[0],
            kind=before[1],
            restored_sessions=len(spare.windows),
            replayed_entries=replayed,
            replayed_ticks=len(marks),
            late_ticks=late_count,
            took_ms=(time.perf_counter() - started) * 1000,
        )
        self.handovers = [*self.handovers[-99:], handover]
        record = {"owner": self.me, "at": time.time(), "previous": before[0], "kind": before[1]}
        self.client.set(self.names.partition_handover(partition), json.dumps(record))
        instruments.lease_changes.labels(change="taken").inc()
        log.info(
            "collector %s took partition %d (%s from %s): %d sessions, %d entries and %d ticks "
            "replayed, %d late ticks scored, in %.0f ms",
            self.me,
            partition,
            handover.kind,
            handover.previous,
            handover.restored_sessions,
            replayed,
            len(marks),
            late_count,
            handover.took_ms,
        )

    def _missed_since(self, scored: float | None) -> list[float]:
        if scored is None or self.last_tick is None or self.last_tick <= scored:
            return []
        count = round((self.last_tick - scored) / self.tick_seconds)
        if count > self.max_late_ticks:
            # A long outage: its rows are not made up afterwards, but they are counted.
            self.unscored_ticks += count
            log.warning(
                "%d ticks of a partition taken over were scored by nobody (longer than a "
                "lease can cover); %d in total",
                count,
                self.unscored_ticks,
            )
            return []
        return [scored + i * self.tick_seconds for i in range(1, count + 1)]

    def _previous_owner(self, partition: int) -> tuple[str | None, str]:
        raw = self.client.get(self.names.partition_handover(partition))
        if raw is None:
            return None, "first"
        try:
            record = json.loads(raw)
        except ValueError:
            return None, "first"
        if not isinstance(record, dict):
            return None, "first"
        if record.get("released_by"):
            return str(record["released_by"]), "handed over"
        return (str(record["owner"]) if record.get("owner") else None), "lease ran out"

    # -- the tick's part ----------------------------------------------------------------------

    def apply(self, partition: int, entry_id: str, events: list[RoutedEvent]) -> None:
        owned = self.owned.get(partition)
        if owned is None:  # handed back since the read began
            return
        for event, at in events:
            self.book.apply(event, at)
        owned.last_id = entry_id

    def read(self) -> int:
        return self.reader.read(sorted(self.owned), self.apply)

    def already_scored(self, boundary: float) -> set[int]:
        """Partitions whose previous owner scored this tick already (taken just after it)."""
        return {
            p
            for p, owned in self.owned.items()
            if owned.scored_through is not None and owned.scored_through >= boundary
        }

    def after_tick(self, boundary: float) -> None:
        """Mark what every owned partition had applied at this tick; checkpoint a share of them."""
        self.last_tick = boundary
        pipe = self.client.pipeline(transaction=False)
        for partition, owned in self.owned.items():
            owned.scored_through = boundary
            self.checkpoints.mark(pipe, partition, Mark(boundary, owned.last_id))
        pipe.execute()
        # Spread over the checkpoint interval, so no one tick pays for all of them.
        slot = round(boundary / self.tick_seconds) % self.checkpoint_every
        due = [p for p in self.owned if p % self.checkpoint_every == slot]
        if due:
            self.save(due)

    def save(self, partitions: list[int]) -> None:
        wanted = set(partitions)
        sessions: defaultdict[int, set[str]] = defaultdict(set)
        for session_id in self.book.windows:
            partition = self.partition(session_id)
            if partition in wanted:
                sessions[partition].add(session_id)
        for partition in partitions:
            owned = self.owned.get(partition)
            if owned is None:
                continue
            state = self.book.export(sessions[partition])
            self.checkpoints.save(partition, Checkpoint(owned.scored_through, owned.last_id, state))
