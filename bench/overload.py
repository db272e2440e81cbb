"""A burst of made-up sessions against one collector: 10,000 entries with new session ids in a
few seconds, as #15 found them (10,075 live sessions, ticks of 0.8-1.6 s at a 1-s tick).

Each configuration runs a fresh `engagement-conductor collect` (1-s tick) on a scratch database
and Redis prefix with a steady load of 20 real sessions, then sends the burst and watches the
collector's own reports for `--watch` seconds: tick duration (p50, p95, max), ticks missed,
events of refused sessions, live sessions and resident memory. The baseline is today's
behaviour without limits (MAX_LIVE_SESSIONS and MAX_EVENT_SESSIONS at 1,000,000).

    python bench/overload.py [--burst 10000] [--watch 60]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench.fleet import Fleet, TwinLoad, drop_prefix, scratch_database  # noqa: E402
from services.core.platform import LIVE_SYNC_STREAM  # noqa: E402
from services.core.redis_bus import RedisNames  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
CONFIGS = {
    "no limits (today)": {"MAX_LIVE_SESSIONS": "1000000", "MAX_EVENT_SESSIONS": "1000000"},
    "defaults (2,000 per tick-second; 2,000 per event)": {},
    "MAX_LIVE_SESSIONS 5,000": {"MAX_LIVE_SESSIONS": "5000"},
}


def report(client: redis.Redis, names: RedisNames) -> dict | None:
    raw = client.hgetall(names.collector_reports)
    for value in raw.values():
        return json.loads(value)
    return None


def burst(client: redis.Redis, names: RedisNames, count: int) -> float:
    """`count` joins, each to a session of its own, spread over 20 events; seconds taken."""
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        payload = {
            "type": "user_join",
            "sessionId": f"junk-{n}",
            "eventId": f"junk-event-{n % 20}",
            "userId": f"u{n}",
        }
        pipe.xadd(names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)})
        if n % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - started


def run(name: str, extra: dict[str, str], args: argparse.Namespace) -> dict:
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"bench-overload-{os.getpid()}-{abs(hash(name)) % 10**6}:"
    names = RedisNames(prefix)
    with scratch_database() as url, tempfile.TemporaryDirectory() as logs:
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "TICK_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
        }
        fleet = Fleet(env, Path(logs))
        load = TwinLoad(client, names, pairs=10, audience=30)
        try:
            fleet.start(extra=extra)
            deadline = time.time() + 30
            while (r := report(client, names)) is None or r.get("last_tick") is None:
                if time.time() > deadline:
                    raise RuntimeError("the collector did not start ticking")
                time.sleep(0.2)
            load.start()
            time.sleep(5)
            before = report(client, names) or {}
            sent_in = burst(client, names, args.burst)
            ticks, live, memory = [], [], []
            end = time.time() + args.watch
            last_seen = None
            while time.time() < end:
                r = report(client, names) or {}
                if r.get("last_tick") != last_seen and r.get("last_tick_ms") is not None:
                    last_seen = r["last_tick"]
                    ticks.append(float(r["last_tick_ms"]))
                    live.append(int(r.get("live_sessions") or 0))
                    memory.append(float(r.get("rss_mb") or 0))
                time.sleep(0.1)
            after = report(client, names) or {}
        finally:
            load.stop()
            fleet.stop_all()
            drop_prefix(client, prefix)
    ticks.sort()
    return {
        "name": name,
        "sent_in": sent_in,
        "p50": statistics.median(ticks),
        "p95": ticks[int(0.95 * (len(ticks) - 1))],
        "max": ticks[-1],
        "missed": int(after.get("missed_ticks") or 0) - int(before.get("missed_ticks") or 0),
        "refused": int(after.get("refused_session_events") or 0),
        "live": max(live),
        "rss": max(memory),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--watch", type=float, default=60.0)
    args = parser.parse_args()
    print(
        f"burst of {args.burst} new sessions over 20 events, watched {args.watch:g} s, 1-s tick\n"
    )
    print(
        "| configuration | tick p50 / p95 / max | missed ticks | refused events "
        "| most live sessions | most memory |"
    )
    print("|---|---|---|---|---|---|")
    for name, extra in CONFIGS.items():
        r = run(name, extra, args)
        print(
            f"| {r['name']} | {r['p50']:.0f} / {r['p95']:.0f} / {r['max']:.0f} ms | {r['missed']} "
            f"| {r['refused']} | {r['live']} | {r['rss']:.0f} MB |"
        )


if __name__ == "__main__":
    main()
