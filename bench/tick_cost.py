"""Tick cost at 1,000 and 10,000 live sessions: score every session, write the batch, publish.

The batch write is compared in the same run against the naive way of writing a tick (one INSERT
per row in a loop, committed once). Prints a Markdown table.

    python bench/tick_cost.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                              [--redis redis://127.0.0.1:6379/0] [--ticks 5] [--warm-ticks 12]
                              [--gc collector|interpreter]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import uuid

import psycopg
import sqlalchemy as sa

from app.runtime import Runtime
from services.core.settings import ScoreWeights, load_settings
from services.ingest.contracts import SignalEvent, SignalKind
from services.ingest.windows import WindowConfig
from services.live.collector import Collector
from services.live.gc_tuning import COLLECTOR_GC_THRESHOLDS
from services.live.session_book import Lifetimes, SessionBook
from services.storage.schema import engagement_metrics, sessions

T0 = float(int(time.time()) // 5 * 5)


def populated_book(n_sessions: int, seed: int = 1) -> tuple[SessionBook, dict[str, int]]:
    """Sessions with 5-200 present users each and a minute of chat, votes and reactions."""
    rng = random.Random(seed)
    book = SessionBook(WindowConfig(), ScoreWeights(), Lifetimes())
    audience: dict[str, int] = {}
    for s in range(n_sessions):
        sid, users = f"bench{n_sessions}-s{s}", rng.randint(5, 200)
        audience[sid] = users
        for u in range(users):
            book.apply(SignalEvent(SignalKind.JOIN, sid, f"evt{s % 40}", f"u{u}"), T0 - 60)
        for _ in range(rng.randint(0, 40)):
            activity(book, rng, sid, users, T0 - rng.uniform(0, 60))
    return book, audience


def activity(book: SessionBook, rng: random.Random, sid: str, users: int, at: float) -> None:
    kind = rng.choice((SignalKind.CHAT, SignalKind.REACTION, SignalKind.VOTE))
    book.apply(SignalEvent(kind, sid, None, f"u{rng.randrange(users)}", poll_id="p1"), at)


def next_tick(
    book: SessionBook, audience: dict[str, int], rng: random.Random, boundary: float
) -> None:
    """A tick's worth of traffic in every session (0-8 events), applied before it is scored."""
    for sid, users in audience.items():
        for _ in range(rng.randint(0, 8)):
            activity(book, rng, sid, users, boundary - rng.uniform(0, 5))


def naive_write(engine: sa.Engine, metric_rows: list[dict], session_rows: list[dict]) -> None:
    with engine.begin() as conn:
        for row in metric_rows:
            conn.execute(engagement_metrics.insert().values(**row))
        for row in session_rows:
            conn.execute(sessions.delete().where(sessions.c.session_id == row["session_id"]))
            conn.execute(sessions.insert().values(**row))


def measure(collector: Collector, n_sessions: int, ticks: int, warm: int) -> dict[str, float]:
    book, audience = populated_book(n_sessions)
    traffic = random.Random(2)
    # Detectors judge nothing during their first ticks; a live tick's sessions are past that.
    for i in range(warm):
        next_tick(book, audience, traffic, T0 + 5 * (i + 1))
        book.score_tick(T0 + 5 * (i + 1))
    store, engine = collector.store, collector.store.engine
    score_ms, write_ms, publish_ms, naive_ms = [], [], [], []
    for i in range(warm, warm + ticks):
        boundary = T0 + 5 * (i + 1)
        next_tick(book, audience, traffic, boundary)
        started = time.perf_counter()
        out = book.score_tick(boundary)
        scored = time.perf_counter()
        store.write_batch(out.metric_rows, out.session_rows)
        written = time.perf_counter()
        collector.publisher.publish(out)
        published = time.perf_counter()
        score_ms.append((scored - started) * 1000)
        write_ms.append((written - scored) * 1000)
        publish_ms.append((published - written) * 1000)
        # The naive writer gets the same rows, one second later so they don't collide.
        for row in out.metric_rows:
            row["time"] = row["time"].replace(microsecond=500_000)
        started = time.perf_counter()
        naive_write(engine, out.metric_rows, out.session_rows)
        naive_ms.append((time.perf_counter() - started) * 1000)
    return {
        "score": statistics.median(score_ms),
        "write": statistics.median(write_ms),
        "publish": statistics.median(publish_ms),
        "total": statistics.median(
            totals := [sum(t) for t in zip(score_ms, write_ms, publish_ms, strict=True)]
        ),
        "worst": max(totals),
        "naive_write": statistics.median(naive_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument(
        "--warm-ticks",
        type=int,
        default=12,
        help="ticks scored before measuring (detector warm-up)",
    )
    parser.add_argument(
        "--gc",
        choices=("collector", "interpreter"),
        default="collector",
        help="garbage-collector thresholds: the collector process's (default) or Python's",
    )
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    if args.gc == "collector":
        gc.set_threshold(*COLLECTOR_GC_THRESHOLDS)

    name = f"ec_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    settings = load_settings(database_url=url, redis_url=args.redis, redis_key_prefix=prefix)
    runtime = Runtime.build(settings)
    collector, engine, client = runtime.collector, runtime.engine, runtime.redis
    assert collector is not None
    try:
        info = runtime.database
        print(
            f"backend: {info.backend}; {args.ticks} ticks per size after {args.warm_ticks}; "
            f"gc thresholds {gc.get_threshold()}; medians in ms\n"
        )
        print(
            "| live sessions | score | batch write | publish | whole tick | worst tick "
            "| naive write (INSERT per row) |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for size in (int(s) for s in args.sizes.split(",")):
            r = measure(collector, size, args.ticks, args.warm_ticks)
            print(
                f"| {size:,} | {r['score']:.1f} | {r['write']:.1f} | {r['publish']:.1f} "
                f"| {r['total']:.1f} | {r['worst']:.1f} | {r['naive_write']:.1f} |"
            )
    finally:
        engine.dispose()
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
