"""Handovers under load: kill -9, SIGTERM, a collector joining, and a Redis restart under serve.

Collector processes (`engagement-conductor collect`) share 64 partitions on real Redis and
PostgreSQL while twin sessions (bench/fleet.py) get a steady load. Each phase does one thing to
the fleet and waits until every partition is owned and the shares are even again; then, for
the sessions whose partition changed owner:
- ticks missing: tick boundaries of the phase with no row (target: none beyond LEASE_SECONDS);
- score gap: the largest |moved twin - its unmoved twin| over the phase's ticks (target: the
  rates' rounding); the same for twins neither of which moved, as the method's own noise;
- false episodes: episodes opened on a moved twin and not on its unmoved twin (target: 0).
The last phase restarts Redis (10 s, no persistence) under a 2-worker `serve`.

    python bench/partition_handover.py [--pairs 200] [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import redis
import sqlalchemy as sa

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench.fleet import (  # noqa: E402
    Fleet,
    TwinLoad,
    drop_prefix,
    episodes_since,
    free_port,
    score_rows,
    scratch_database,
)
from services.core.partitions import partition_of  # noqa: E402
from services.core.redis_bus import RedisNames  # noqa: E402
from services.live.partition_map import read_partition_map  # noqa: E402

PARTITIONS = 64
TICK = 1.0
LEASE = 3.0
SETTINGS = {
    "TICK_SECONDS": str(TICK),
    "LEASE_SECONDS": str(LEASE),
    "CHECKPOINT_SECONDS": "5",
    "PARTITION_RETAIN_SECONDS": "30",
    "PARTITIONS": str(PARTITIONS),
    "RECLAIM_IDLE_SECONDS": "5",
    "LOG_LEVEL": "INFO",
}


def owners(client: redis.Redis, names: RedisNames) -> list[str | None]:
    return [info.owner for info in read_partition_map(client, names, PARTITIONS)]


def wait_balanced(client: redis.Redis, names: RedisNames, members: int, timeout: float) -> float:
    """Seconds until every partition is owned and no owner holds more than one over another."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = owners(client, names)
        counts = Counter(now)
        if (
            None not in counts
            and len(counts) == members
            and (max(counts.values()) - min(counts.values()) <= 1)
        ):
            return time.monotonic() - started
        time.sleep(0.05)
    raise TimeoutError(f"partitions not balanced over {members} within {timeout} s")


def judge(
    engine: sa.Engine,
    load: TwinLoad,
    before: list[str | None],
    after: list[str | None],
    since: float,
    until: float,
) -> dict[str, float]:
    moved_partitions = {p for p in range(PARTITIONS) if before[p] != after[p]}
    moved = {s for s in load.sessions() if partition_of(s, PARTITIONS) in moved_partitions}
    rows = score_rows(engine, since)
    boundaries = [
        float(b) for b in range(int(since // TICK) + 1, int(until // TICK)) if b * TICK < until
    ]
    missing = [sum(1 for b in boundaries if b not in rows.get(s, {})) for s in moved]
    gaps, noise, false_episodes = [], [], 0
    episodes = Counter(episodes_since(engine, since))
    for pair in range(load.pairs):
        a, b = f"tw{pair}-a", f"tw{pair}-b"
        both = sorted(set(rows.get(a, {})) & set(rows.get(b, {})))
        diffs = [abs(rows[a][t][0] - rows[b][t][0]) for t in both]
        if (a in moved) != (b in moved):
            gaps.extend(diffs)
            mover, still = (a, b) if a in moved else (b, a)
            for (session, kind), n in episodes.items():
                if session == mover:
                    false_episodes += max(0, n - episodes.get((still, kind), 0))
        elif not (a in moved or b in moved):
            noise.extend(diffs)
    present = [v[1] for s in moved for t, v in rows.get(s, {}).items() if t > since + LEASE]
    return {
        "moved_partitions": len(moved_partitions),
        "moved_sessions": len(moved),
        "missing_max": max(missing, default=0),
        "missing_mean": sum(missing) / len(missing) if missing else 0.0,
        "gap_max": max(gaps, default=0.0),
        "noise_max": max(noise, default=0.0),
        "false_episodes": false_episodes,
        "present_min": min(present, default=0),
    }


def print_row(kind: str, took: float, result: dict[str, float]) -> None:
    print(
        f"| {kind} | {took:.2f} | {result['moved_partitions']} | {result['moved_sessions']} "
        f"| {result['missing_max']} ({result['missing_mean']:.2f}) | {result['gap_max']:.4f} "
        f"| {result['noise_max']:.4f} | {result['false_episodes']} | {result['present_min']} |",
        flush=True,
    )


HEADER = (
    "| phase | s to balanced | partitions moved | sessions moved | ticks missing max (mean) "
    "| score gap max | twin noise max | false episodes | fewest present |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def fleet_phases(url: str, client: redis.Redis, pairs: int, rounds: int, logs: Path) -> None:
    names = RedisNames(f"bench-{uuid.uuid4().hex[:8]}:")
    env = SETTINGS | {"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/0",
                      "REDIS_KEY_PREFIX": names.prefix}  # fmt: skip
    fleet = Fleet(env, logs)
    engine = sa.create_engine(url)
    load = TwinLoad(client, names, pairs, audience=20)
    rng = random.Random(4)
    try:
        fleet.start()
        fleet.start()
        wait_balanced(client, names, 2, 60)
        load.start()
        time.sleep(30)  # the detectors learn their baselines
        print(HEADER)

        def phase(kind: str, action: object, members: int) -> None:
            before = owners(client, names)
            since = time.time()
            action()  # type: ignore[operator]
            took = wait_balanced(client, names, members, 60)
            time.sleep(4 * TICK)
            print_row(kind, took, judge(engine, load, before, owners(client, names), since,
                                        time.time() - 2 * TICK))  # fmt: skip

        for _ in range(rounds):
            victim = rng.choice(sorted(fleet.procs))
            phase("kill -9 one of two", lambda v=victim: fleet.kill(v), 1)
            phase("a replacement joins", lambda: fleet.start(), 2)
            victim = rng.choice(sorted(fleet.procs))
            phase("SIGTERM one of two", lambda v=victim: fleet.terminate(v), 1)
            phase("a replacement joins", lambda: fleet.start(), 2)
        phase("a third joins", lambda: fleet.start(), 3)
        victim = rng.choice(sorted(fleet.procs))
        phase("SIGTERM one of three", lambda v=victim: fleet.terminate(v), 2)
    finally:
        load.stop()
        fleet.stop_all()
        engine.dispose()
        drop_prefix(client, names.prefix)


def redis_restart_phase(url: str, logs: Path, pairs: int) -> None:
    port = free_port()
    data = Path(tempfile.mkdtemp())
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(data)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    _wait_ping(client)
    names = RedisNames("")
    env = SETTINGS | {"DATABASE_URL": url, "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                      "ALLOW_OPEN_ACCESS": "true", "WEB_WORKERS": "2",
                      "PORT": str(free_port())}  # fmt: skip
    fleet = Fleet(env, logs)
    engine = sa.create_engine(url)
    load = TwinLoad(client, names, pairs, audience=20, seed=9)
    try:
        fleet.start("serve")
        wait_balanced(client, names, 2, 90)
        load.start()
        time.sleep(30)
        before = owners(client, names)
        since = time.time()
        server.kill()
        server.wait(10)
        time.sleep(10)
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_ping(client)
        took = wait_balanced(client, names, 2, 60)
        time.sleep(8 * TICK)
        after = owners(client, names)
        result = judge(engine, load, before, after, since, time.time() - 2 * TICK)
        # Nobody should have moved: the owners keep their state and take their leases back.
        everyone = judge(engine, load, before, [None] * PARTITIONS, since + 14, time.time() - 2)
        outage = judge(engine, load, before, [None] * PARTITIONS, since, time.time() - 2)
        print(HEADER)
        print_row("Redis restart (10 s) under 2-worker serve", took, result)
        print(
            f"\nover all {2 * pairs} sessions, ticks missing (Redis away, nothing to score): "
            f"max {outage['missing_max']}, mean {outage['missing_mean']:.2f}; "
            f"after the restart: fewest present "
            f"{everyone['present_min']} of 20, largest twin gap {everyone['noise_max']:.4f}, "
            f"episodes on one twin only: {everyone['false_episodes']}"
        )
    finally:
        load.stop()
        fleet.stop_all()
        engine.dispose()
        server.kill()


def _wait_ping(client: redis.Redis) -> None:
    for _ in range(200):
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise TimeoutError("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--skip-redis-restart", action="store_true")
    parser.add_argument("--only-redis-restart", action="store_true")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="handover-logs-"))
    print(f"{2 * args.pairs} sessions of 20 people, tick {TICK:g} s, lease {LEASE:g} s, "
          f"{PARTITIONS} partitions; collector logs in {logs}\n")  # fmt: skip
    client = redis.Redis()
    if not args.only_redis_restart:
        with scratch_database() as url:
            fleet_phases(url, client, args.pairs, args.rounds, logs)
    if not args.skip_redis_restart:
        print()
        with scratch_database() as url:
            redis_restart_phase(url, logs, args.pairs)


if __name__ == "__main__":
    main()
