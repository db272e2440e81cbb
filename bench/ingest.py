"""Ingest rate: the collector's read → validate → apply → ack path next to a bare redis-py loop.

Both consume the same simulated platform events (all five signal streams) from the same Redis
in the same run, pinned to one core, alternating rounds. Prints a Markdown table.

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
from services.ingest.stream_reader import StreamReader
from services.ingest.windows import WindowConfig
from services.live.session_book import Lifetimes, SessionBook
from services.simulation.audience import SimSession
from services.simulation.simulator import Simulator, publish

BATCH = 500


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
        rates: dict[str, list[float]] = {"bare": [], "collector": []}
        for _ in range(args.rounds):
            for name, loop in (
                ("bare", lambda: bare_loop(client, names, "bare")),
                ("collector", lambda: collector_loop(client, names)),
            ):
                reset_group(client, names, "bare" if name == "bare" else CONSUMER_GROUP)
                started = time.perf_counter()
                consumed = loop()
                elapsed = time.perf_counter() - started
                assert consumed == total, (name, consumed, total)
                rates[name].append(consumed / elapsed)
        bare, ours = statistics.median(rates["bare"]), statistics.median(rates["collector"])
        print(
            f"{total:,} events over 5 streams, batches of {BATCH}, {args.rounds} rounds, "
            "one core; median events/s\n"
        )
        print("| consumer | events/s | share of bare loop |")
        print("|---|---:|---:|")
        print(f"| bare redis-py XREADGROUP + XACK | {bare:,.0f} | 100 % |")
        print(
            f"| collector (validate, window, dead-letter, XACK) | {ours:,.0f} "
            f"| {100 * ours / bare:.0f} % |"
        )
    finally:
        for key in client.scan_iter(match=f"{names.prefix}*", count=1000):
            client.delete(key)


if __name__ == "__main__":
    main()
