"""Ingest rate: routing and owning next to a bare redis-py loop and the single-reader path.

All consume the same simulated platform events (all five signal streams) from the same Redis
in the same run, pinned to one core, alternating rounds:
- bare: XREADGROUP + XACK, nothing else;
- reader: the pre-partition collector path (read, validate, apply to windows, XACK);
- router: the routing stage (read, validate, append to 64 partition streams, XACK in one MULTI);
- router + owner: routing, then an owner reading every partition stream and applying.
Prints a Markdown table.

    python bench/ingest.py [--redis redis://127.0.0.1:6379/0] [--events 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import redis

from services.core.platform import CONSUMER_GROUP
from services.core.redis_bus import RedisNames
from services.core.settings import ScoreWeights
from services.ingest.partition_reader import PartitionReader
from services.ingest.router import Router
from services.ingest.stream_reader import StreamReader
from services.ingest.windows import WindowConfig
from services.live.session_book import Lifetimes, SessionBook
from services.simulation.audience import SimSession
from services.simulation.simulator import Simulator, publish

BATCH = 500
PARTITIONS = 64


def fill_streams(client: redis.Redis, names: RedisNames, target: int) -> int:
    """Simulated audiences (20 sessions of 50-5,000 people) until `target` events are in."""
    sessions = [
        SimSession(
            session_id=f"bench-{i}",
            event_id=f"evt-{i % 3}",
            title=f"Session {i}",
            audience=50 + (i * 250) % 5000,
        )
        for i in range(20)
    ]
    sim = Simulator(sessions, seed=11, start=1_800_000_000.0)
    written, t = 0, 1_800_000_000.0
    while written < target:
        t += 5.0
        written += publish(client, names, sim.step(t))
    return written


def reset_group(client: redis.Redis, names: RedisNames, group: str) -> None:
    for stream in names.signal_streams:
        client.xgroup_destroy(stream, group)
        client.xgroup_create(stream, group, id="0")


def bare_loop(client: redis.Redis, names: RedisNames, group: str) -> int:
    streams = dict.fromkeys(names.signal_streams, ">")
    count = 0
    while True:
        reply = client.xreadgroup(group, "bare", streams, count=BATCH)
        if not reply:
            return count
        pipe = client.pipeline(transaction=True)
        for stream, entries in reply:
            pipe.xack(stream, group, *[entry_id for entry_id, _ in entries])
            count += len(entries)
        pipe.execute()


def collector_loop(client: redis.Redis, names: RedisNames) -> int:
    reader = StreamReader(client, names, "bench", BATCH, dead_letter_maxlen=10_000)
    book = SessionBook(WindowConfig(), ScoreWeights(), Lifetimes())
    count = 0
    # No blocking: a drained stream ends the round instead of waiting for more.
    while got := reader.read(book.apply, block_ms=None):
        count += got
    return count


def router_loop(client: redis.Redis, names: RedisNames) -> int:
    router = Router(
        client, names, "bench", BATCH, 10_000, partitions=PARTITIONS, retain_seconds=3600
    )
    count = 0
    while got := router.route(None):
        count += got
    return count


def owner_loop(client: redis.Redis, names: RedisNames) -> int:
    """Route everything, then apply it all as the owner of every partition does."""
    count = router_loop(client, names)
    reader = PartitionReader(client, names, "bench-owner", BATCH, 10_000)
    for partition in range(PARTITIONS):
        reader.settle(partition, "0-0")
    book = SessionBook(WindowConfig(), ScoreWeights(), Lifetimes())

    def apply(_partition: int, _entry: str, events: list) -> None:  # type: ignore[type-arg]
        for event, at in events:
            book.apply(event, at)

    partitions = list(range(PARTITIONS))
    while reader.read(partitions, apply):
        pass
    assert reader.stats.accepted == count - reader.stats.rejected
    return count


def drop_partition_streams(client: redis.Redis, names: RedisNames) -> None:
    client.delete(*(names.partition_stream(p) for p in range(PARTITIONS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})

    client = redis.Redis.from_url(args.redis)
    names = RedisNames(f"bench-{uuid.uuid4().hex[:8]}:")
    try:
        total = fill_streams(client, names, args.events)
        for stream in names.signal_streams:
            client.xgroup_create(stream, "bare", id="0", mkstream=True)
            client.xgroup_create(stream, CONSUMER_GROUP, id="0", mkstream=True)
        loops = {
            "bare": lambda: bare_loop(client, names, "bare"),
            "reader": lambda: collector_loop(client, names),
            "router": lambda: router_loop(client, names),
            "router + owner": lambda: owner_loop(client, names),
        }
        rates: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(args.rounds):
            for name, loop in loops.items():
                reset_group(client, names, "bare" if name == "bare" else CONSUMER_GROUP)
                drop_partition_streams(client, names)
                started = time.perf_counter()
                consumed = loop()
                elapsed = time.perf_counter() - started
                assert consumed == total, (name, consumed, total)
                rates[name].append(consumed / elapsed)
        medians = {name: statistics.median(values) for name, values in rates.items()}
        bare = medians["bare"]
        print(
            f"{total:,} events over 5 streams, batches of {BATCH}, {PARTITIONS} partitions, "
            f"{args.rounds} rounds, one core; median events/s\n"
        )
        labels = {
            "bare": "bare redis-py XREADGROUP + XACK",
            "reader": "single reader (validate, window, dead-letter, XACK)",
            "router": "router (validate, dead-letter, XADD to partitions + XACK in MULTI)",
            "router + owner": "router, then owner (XREADGROUP partitions, window, XACK)",
        }
        print("| consumer | events/s | share of bare loop |")
        print("|---|---:|---:|")
        for name, label in labels.items():
            print(f"| {label} | {medians[name]:,.0f} | {100 * medians[name] / bare:.0f} % |")
        # The last loop routed every event: what the partition streams hold, for sizing them.
        held = sum(client.memory_usage(names.partition_stream(p)) or 0 for p in range(PARTITIONS))
        per_event = held / total
        print(f"\npartition streams: {held:,} bytes for {total:,} events, {per_event:.0f} B/event")
    finally:
        for key in client.scan_iter(match=f"{names.prefix}*", count=1000):
            client.delete(key)


if __name__ == "__main__":
    main()
