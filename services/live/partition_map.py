"""The partition map as operators see it: owner, backlog and last handover of each partition."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import redis

from services.core.redis_bus import RedisNames
from services.ingest.partition_reader import OWNER_GROUP


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    partition: int
    owner: str | None
    # Routed entries its owner has not read yet, and read but not yet acknowledged.
    lag: int | None
    pending: int | None
    last_handover: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def read_partition_map(
    client: redis.Redis, names: RedisNames, partitions: int
) -> list[PartitionInfo]:
    pipe = client.pipeline(transaction=False)
    for partition in range(partitions):
        pipe.get(names.partition_owner(partition))
        pipe.xinfo_groups(names.partition_stream(partition))
        pipe.get(names.partition_handover(partition))
    replies = pipe.execute(raise_on_error=False)
    out = []
    for partition in range(partitions):
        owner, groups, handover = replies[3 * partition : 3 * partition + 3]
        group = None
        if not isinstance(groups, Exception):  # no stream yet: nothing routed there
            group = next((g for g in groups if _text(g.get("name")) == OWNER_GROUP), None)
        record = None
        if isinstance(handover, bytes | str):
            try:
                loaded = json.loads(handover)
            except ValueError:
                loaded = None
            record = loaded if isinstance(loaded, dict) else None
        out.append(
            PartitionInfo(
                partition=partition,
                owner=None if isinstance(owner, Exception) else _text(owner),
                lag=None if group is None else group.get("lag"),
                pending=None if group is None else group.get("pending"),
                last_handover=record,
            )
        )
    return out
