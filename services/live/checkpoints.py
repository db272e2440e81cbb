"""A partition's live state saved to Redis, and the marks of what each tick had applied.

A new owner restores the checkpoint, then replays the partition stream's entries after it,
scoring silently at each marked tick as the old owner did: its windows and detectors end up
where the old owner's would be. Pickle carries the windows and detectors whole; only our own
classes and a few standard containers may be loaded back, so a key written by anyone else
cannot run code here.
"""

from __future__ import annotations

import io
import logging
import math
import pickle
from dataclasses import dataclass
from typing import Any

import redis

from services.core.redis_bus import RedisNames
from services.live.session_book import SessionsState

log = logging.getLogger(__name__)

# Bumped whenever a pickled class changes shape: an old checkpoint is then ignored (the replay
# of the retained minutes rebuilds what it can) instead of restored wrong.
STATE_FORMAT = 4  # 2: windows keep titles; 3: detectors' findings carry their trigger;
# 4: windows keep their viewers' attention states

_ALLOWED_GLOBALS = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "float"),
    ("builtins", "getattr"),
    ("collections", "OrderedDict"),
    ("collections", "deque"),
    ("collections", "defaultdict"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
    ("array", "array"),
    ("array", "_array_reconstructor"),
}


# The modules whose classes make up a session's state: plain data, nothing that acts on build.
_STATE_MODULES = (
    "services.ingest.windows",
    "services.ingest.contracts",
    "services.detection.",
    "services.live.session_book",
    "services.live.checkpoints",
    "services.core.vocabulary",
)


class _OurClassesOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS or module.startswith(_STATE_MODULES):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} may not be loaded from a checkpoint")


@dataclass(slots=True)
class Checkpoint:
    boundary: float | None  # the last tick scored before it was taken
    last_id: str  # the last partition-stream entry applied to it
    state: SessionsState


@dataclass(frozen=True, slots=True)
class Mark:
    boundary: float
    last_id: str


class CheckpointStore:
    def __init__(
        self, client: redis.Redis, names: RedisNames, tick_seconds: float, keep_seconds: float
    ) -> None:
        self.client = client
        self.names = names
        self.keep_ms = int(keep_seconds * 1000)
        self.marks_kept = math.ceil(keep_seconds / tick_seconds) + 1
        self.saved_bytes = 0

    def save(self, partition: int, checkpoint: Checkpoint) -> int:
        blob = pickle.dumps((STATE_FORMAT, checkpoint), protocol=pickle.HIGHEST_PROTOCOL)
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.names.partition_checkpoint(partition), blob, px=self.keep_ms)
        # Marks before the checkpoint are of no more use to a replay.
        pipe.delete(self.names.partition_marks(partition))
        pipe.execute()
        self.saved_bytes += len(blob)
        return len(blob)

    def load(self, partition: int) -> Checkpoint | None:
        blob = self.client.get(self.names.partition_checkpoint(partition))
        if blob is None:
            return None
        try:
            version, checkpoint = _OurClassesOnly(io.BytesIO(blob)).load()
        except Exception as exc:  # anything a damaged or foreign blob can raise
            log.warning("checkpoint of partition %d is unreadable (%s); replaying", partition, exc)
            return None
        if version != STATE_FORMAT or not isinstance(checkpoint, Checkpoint):
            log.warning("checkpoint of partition %d is of another version; replaying", partition)
            return None
        return checkpoint

    def mark(self, pipe: redis.client.Pipeline, partition: int, mark: Mark) -> None:  # type: ignore[type-arg]
        key = self.names.partition_marks(partition)
        pipe.rpush(key, f"{mark.boundary!r} {mark.last_id}")
        pipe.ltrim(key, -self.marks_kept, -1)
        pipe.pexpire(key, self.keep_ms)

    def marks(self, partition: int) -> list[Mark]:
        marks = []
        for raw in self.client.lrange(self.names.partition_marks(partition), 0, -1):
            text = raw.decode() if isinstance(raw, bytes) else raw
            boundary, _, last_id = text.partition(" ")
            try:
                marks.append(Mark(float(boundary), last_id))
            except ValueError:
                log.warning("partition %d has a malformed mark %r; ignored", partition, text[:80])
        return marks
