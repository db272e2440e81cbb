"""Scaling out: the same live sessions scored by one and by two collector processes.

Each configuration gets a fresh Redis prefix and database, `--sessions` sessions of 10 people
(joined once, then chat from a tenth of them every second), and `engagement-conductor collect`
processes sharing 64 partitions at a 5-s tick. Over `--ticks` ticks it reads each collector's
own report (tick time: score, detect, hand the rows to the writer, publish) and the CPU time
of each process, and prints:
- tick ms per owner (median of the slowest owner per tick);
- sessions scored per CPU-second (all processes' CPU, writer and router threads included);
- the largest session count kept under a 1-s tick, extrapolated linearly from the slowest
  owner's tick time (tick time grows with the sessions owned, bench/tick_cost.py).

    python bench/partition_scaling.py [--sessions 4000 8000] [--ticks 6]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench.fleet import Fleet, drop_prefix, scratch_database  # noqa: E402
from services.core.platform import CHAT_STREAM, LIVE_SYNC_STREAM  # noqa: E402
from services.core.redis_bus import RedisNames  # noqa: E402

TICK = 5.0
AUDIENCE = 10


def fill(client: redis.Redis, names: RedisNames, sessions: int) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(sessions):
        for user in range(AUDIENCE):
            payload = {"type": "user_join", "sessionId": f"s{i}", "eventId": f"e{i % 50}",
                       "userId": f"u{user}"}  # fmt: skip
            pipe.xadd(names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)})
        if i % 500 == 499:
            pipe.execute()
    pipe.execute()


def chatter(client: redis.Redis, names: RedisNames, sessions: int, stop: threading.Event) -> None:
    rng = random.Random(2)
    while not stop.wait(1.0):
        pipe = client.pipeline(transaction=False)
        for i in rng.sample(range(sessions), sessions // 10):
            payload = {"sessionId": f"s{i}", "message": {"authorId": f"u{rng.randrange(10)}"}}
            pipe.xadd(names.stream(CHAT_STREAM), {"data": json.dumps(payload)})
        pipe.execute()


def reports(client: redis.Redis, names: RedisNames) -> dict[str, dict]:
    raw = client.hgetall(names.collector_reports)
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def measure(client: redis.Redis, sessions: int, processes: int, ticks: int) -> dict[str, float]:
    names = RedisNames(f"bench-{uuid.uuid4().hex[:8]}:")
    logs = Path(tempfile.mkdtemp(prefix="scaling-logs-"))
    stop = threading.Event()
    with scratch_database() as url:
        env = {"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/0",
               "REDIS_KEY_PREFIX": names.prefix, "TICK_SECONDS": str(TICK),
               "PARTITIONS": "64", "LOG_LEVEL": "WARNING"}  # fmt: skip
        fleet = Fleet(env, logs)
        try:
            for _ in range(processes):
                fleet.start()
            deadline = time.time() + 120
            while len(reports(client, names)) < processes and time.time() < deadline:
                time.sleep(0.2)
            fill(client, names, sessions)
            loader = threading.Thread(target=chatter, args=(client, names, sessions, stop))
            loader.start()
            while time.time() < deadline:
                now = reports(client, names)
                shares = sorted(len(r["partitions"]) for r in now.values())
                live = sum(r["live_sessions"] for r in now.values())
                if live == sessions and shares and shares[-1] - shares[0] <= 1:
                    break
                time.sleep(0.5)
            else:
                raise TimeoutError("sessions not all live and shared out")
            time.sleep(2 * TICK)  # past the first ticks' warm-up
            cpu_before = {name: fleet.cpu_seconds(name) for name in fleet.procs}
            started = time.time()
            slowest: dict[float, float] = {}
            while len(slowest) < ticks + 1:
                for report in reports(client, names).values():
                    tick, ms = report.get("last_tick"), report.get("last_tick_ms")
                    if tick and ms and tick > started:
                        slowest[tick] = max(slowest.get(tick, 0.0), ms)
                time.sleep(0.2)
            elapsed = time.time() - started
            cpu = sum(fleet.cpu_seconds(n) - cpu_before[n] for n in fleet.procs)
        finally:
            stop.set()
            fleet.stop_all()
            drop_prefix(client, names.prefix)
    tick_ms = statistics.median(slowest.values())
    scored = sessions * elapsed / TICK
    return {
        "tick_ms": tick_ms,
        "per_cpu_second": scored / cpu,
        "cpu_share": cpu / elapsed,
        "under_1s": sessions * 1000 / tick_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[4000, 8000])
    parser.add_argument("--ticks", type=int, default=6)
    args = parser.parse_args()
    client = redis.Redis()
    print(f"{os.cpu_count()} cores; tick {TICK:g} s; {AUDIENCE} people per session\n")
    print("| sessions | collectors | tick ms, slowest owner (median) | CPU cores busy "
          "| sessions scored per CPU-second | sessions under a 1-s tick (est.) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for sessions in args.sessions:
        base = None
        for processes in (1, 2):
            result = measure(client, sessions, processes, args.ticks)
            ratio = "" if base is None else f" ({result['under_1s'] / base:.2f}x)"
            base = base or result["under_1s"]
            print(
                f"| {sessions:,} | {processes} | {result['tick_ms']:,.0f} "
                f"| {result['cpu_share']:.2f} | {result['per_cpu_second']:,.0f} "
                f"| {result['under_1s']:,.0f}{ratio} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
