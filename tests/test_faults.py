"""Faults are normal: Redis restarting, the database refusing writes, SIGTERM mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import redis
import sqlalchemy as sa

from services.core.platform import LIVE_SYNC_STREAM
from services.core.redis_bus import RedisNames
from services.core.settings import Settings
from services.live.collector import Collector
from services.live.push_hub import HUB_DOWN, RESYNC, PushHub
from services.storage.database import create_db_engine
from services.storage.schema import engagement_metrics
from tests.conftest import PG_ADMIN_URL, RunCollector, leading_and_ticking
from tests.redis_server import PrivateRedis
from tests.waiting import wait_until


def join(client: redis.Redis, collector: Collector, session: str, user: str) -> None:
    client.xadd(
        collector.names.stream(LIVE_SYNC_STREAM),
        {
            "data": json.dumps(
                {"type": "user_join", "sessionId": session, "eventId": "evt", "userId": user}
            )
        },
    )


def rows(collector: Collector, session: str) -> list[sa.Row[Any]]:
    with collector.store.engine.connect() as conn:
        return conn.execute(
            sa.select(engagement_metrics.c.time, engagement_metrics.c.extra)
            .where(engagement_metrics.c.session_id == session)
            .order_by(engagement_metrics.c.time)
        ).all()


def test_collector_survives_a_redis_restart_and_resumes(
    private_redis: PrivateRedis, run_collector: RunCollector
) -> None:
    collector = run_collector(redis_url=private_redis.url)
    client = redis.Redis.from_url(private_redis.url)
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")
    join(client, collector, "s-r", "u1")
    wait_until(lambda: len(rows(collector, "s-r")) >= 2, what="ticks before the restart")

    private_redis.kill()
    wait_until(lambda: not collector.redis_ok, what="the collector to notice Redis is gone")
    stalled_at = len(rows(collector, "s-r"))
    private_redis.start()
    wait_until(
        lambda: collector.redis_ok and len(collector.owned) == collector.settings.partitions,
        timeout=30,
        what="the collector to reconnect and own every partition again",
    )

    client = redis.Redis.from_url(private_redis.url)
    join(client, collector, "s-r", "u2")  # into the streams Redis lost: group recreated

    def both_users_counted() -> bool:
        return any(r.extra["total_users"] == 2 for r in rows(collector, "s-r"))

    wait_until(
        both_users_counted, timeout=20, what="a tick counting the user from before and after"
    )
    assert len(rows(collector, "s-r")) > stalled_at
    assert collector.status().redis_ok


def test_after_redis_loses_everything_each_owner_keeps_its_partitions_and_their_state(
    private_redis: PrivateRedis, run_collector: RunCollector
) -> None:
    """A 10-s Redis restart under two workers moved partitions to a worker with no windows
    (audience 10 read 6.0): the first one back must not take the other's lost leases."""
    first = run_collector(redis_url=private_redis.url, lease_seconds=2, partitions=8)
    second = run_collector(redis_url=private_redis.url, lease_seconds=2, partitions=8)
    wait_until(
        lambda: len(first.owned) == 4 and len(second.owned) == 4 and first.last_tick,
        what="the partitions shared",
    )
    client = redis.Redis.from_url(private_redis.url)
    sessions = [f"s-{i}" for i in range(16)]
    for session in sessions:
        for user in ("u1", "u2", "u3"):
            join(client, first, session, user)
    wait_until(
        lambda: all(len(rows(first, s)) >= 2 for s in sessions), what="ticks before the restart"
    )
    owned_before = (first.owned, second.owned)
    private_redis.kill()
    wait_until(
        lambda: not first.redis_ok and not second.redis_ok, what="both to notice Redis is gone"
    )
    private_redis.start()
    wait_until(
        lambda: first.redis_ok and second.redis_ok and len(first.owned + second.owned) == 8,
        timeout=40,
        what="both back with every partition owned",
    )
    assert (first.owned, second.owned) == owned_before
    back_at = max(first.last_tick or 0.0, second.last_tick or 0.0)
    wait_until(
        lambda: all(any(r.time.timestamp() > back_at for r in rows(first, s)) for s in sessions),
        what="ticks after the restart",
    )
    # Nobody joined again: the three present come from the owners' memory, not from Redis.
    latest = [rows(first, s)[-1].extra["total_users"] for s in sessions]
    assert latest == [3] * len(sessions)


def _set_connections(database: str, allowed: bool) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )


def test_rows_are_buffered_while_the_database_is_away_and_written_when_it_returns(
    run_collector: RunCollector, redis_client: redis.Redis, pg_url: str
) -> None:
    database = pg_url.rsplit("/", 1)[1]
    collector = run_collector()
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")
    join(redis_client, collector, "s-d", "u1")
    wait_until(lambda: rows(collector, "s-d"), what="a first row")

    _set_connections(database, allowed=False)
    try:
        wait_until(
            lambda: collector.status().pending_rows >= 3,
            timeout=20,
            what="rows waiting in the buffer",
        )
        assert collector.status().database_error
    finally:
        _set_connections(database, allowed=True)
    wait_until(lambda: collector.status().pending_rows == 0, timeout=40, what="the buffer to drain")
    times = [r.time.timestamp() for r in rows(collector, "s-d")]
    # One row per tick with no gap: nothing the outage held back was lost.
    assert times == [times[0] + i * collector.tick_seconds for i in range(len(times))]
    assert collector.status().dropped_rows == 0


def test_a_write_that_hangs_on_a_lock_holds_up_no_tick(
    run_collector: RunCollector, redis_client: redis.Redis, pg_url: str
) -> None:
    """Review: the loop wrote each tick itself, so a write waiting on a lock (up to the
    statement's lock timeout, 30 s on SQLite) froze scoring and those ticks never got a row."""
    collector = run_collector()
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")
    join(redis_client, collector, "s-l", "u1")
    wait_until(lambda: rows(collector, "s-l"), what="a first row")

    plain_url = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain_url) as locker:
        # Reads go on, writes wait: what a long migration or a stuck transaction does.
        locker.execute("LOCK TABLE engagement_metrics IN EXCLUSIVE MODE")
        locked_at = collector.last_tick or 0.0
        wait_until(
            lambda: (collector.last_tick or 0.0) >= locked_at + 7,
            timeout=20,
            what="ticks going on while the write waits",
        )
        assert collector.status().pending_rows >= 3
    wait_until(lambda: collector.status().pending_rows == 0, timeout=40, what="the buffer to drain")
    times = [r.time.timestamp() for r in rows(collector, "s-l")]
    assert times == [times[0] + i * collector.tick_seconds for i in range(len(times))]
    status = collector.status()
    assert status.missed_ticks == 0
    assert status.dropped_rows == 0


def test_a_locked_sqlite_file_holds_up_no_tick(
    run_collector: RunCollector, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Review of the demo: with the file locked, the tick loop waited in the housekeeping's and
    the agent's writes (SQLite's 30-s busy timeout), lost the leader lease and never scored
    those ticks."""
    path = tmp_path / "locked.sqlite3"
    collector = run_collector(
        database_url=f"sqlite:///{path}", lease_seconds=3.0, housekeeping_every=0.5
    )
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")
    join(redis_client, collector, "s-q", "u1")
    wait_until(lambda: rows(collector, "s-q"), what="a first row")

    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")  # what another process writing a long batch does
        locked_at = collector.last_tick or 0.0
        wait_until(
            lambda: (collector.last_tick or 0.0) >= locked_at + 7,
            timeout=20,
            what="ticks going on while the file is locked",
        )
        assert collector.owned
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    wait_until(lambda: collector.status().pending_rows == 0, timeout=40, what="the buffer to drain")
    times = [r.time.timestamp() for r in rows(collector, "s-q")]
    assert times == [times[0] + i * collector.tick_seconds for i in range(len(times))]
    assert collector.status().missed_ticks == 0


def test_sigterm_stops_the_collect_command_cleanly_and_flushes(
    make_settings: Callable[..., Settings], redis_client: redis.Redis
) -> None:
    settings = make_settings(tick_seconds=1.0)
    engine = create_db_engine(settings.database_url)
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "TICK_SECONDS": "1",
    }
    script = Path(sys.executable).parent / "engagement-conductor"
    proc = subprocess.Popen(
        [str(script), "collect", "--migrate"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        names_stream = settings.redis_key_prefix + LIVE_SYNC_STREAM

        def has_rows() -> bool:
            redis_client.xadd(
                names_stream,
                {
                    "data": json.dumps(
                        {"type": "user_join", "sessionId": "s-t", "eventId": "e", "userId": "u"}
                    )
                },
            )
            try:
                with engine.connect() as conn:
                    return bool(
                        conn.execute(
                            sa.select(sa.func.count()).select_from(engagement_metrics)
                        ).scalar()
                    )
            except sa.exc.ProgrammingError:  # schema not created yet
                return False

        wait_until(has_rows, timeout=30, what="the collect command to write rows")
        names = RedisNames(settings.redis_key_prefix)
        [raw] = wait_until(
            lambda: list(redis_client.hgetall(names.collector_reports).values()),
            what="a heartbeat",
        )
        status = json.loads(raw)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        _, stderr = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped" in stderr
    assert "unwritten" not in stderr
    # The leases are given back on the way out, so a successor need not wait for them to lapse.
    owners = [redis_client.get(names.partition_owner(p)) for p in range(settings.partitions)]
    assert owners == [None] * settings.partitions
    assert redis_client.get(names.housekeeper_lease) is None
    assert redis_client.hgetall(names.collector_reports) == {}
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(engagement_metrics.c.time))).scalar()
    assert last.timestamp() >= status["last_tick"]
    engine.dispose()


def test_push_hub_reconnects_after_redis_restarts_and_asks_sockets_to_resync(
    private_redis: PrivateRedis,
) -> None:
    names = RedisNames("hub-test:")
    hub = PushHub(lambda: redis.Redis.from_url(private_redis.url, socket_timeout=5), names)
    # Subscribed before the hub runs: a socket that joins after the hub's first RESYNC gets none
    # (a live socket sends its backfill when it opens), so subscribing after start raced the
    # connection.
    sub = hub.subscribe("s-h")
    thread = threading.Thread(target=hub.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: hub.connected, what="the hub to subscribe")
        assert sub.messages.get(timeout=5) == RESYNC
        publisher = redis.Redis.from_url(private_redis.url)
        publisher.publish(names.push_channel("s-h"), '{"kind":"tick","n":1}')
        publisher.publish(names.push_channel("other"), '{"kind":"tick","n":2}')
        assert json.loads(sub.messages.get(timeout=5))["n"] == 1

        private_redis.kill()
        wait_until(lambda: not hub.connected, what="the hub to notice")
        assert sub.messages.get(timeout=5) == HUB_DOWN
        private_redis.start()
        wait_until(lambda: hub.connected, timeout=20, what="the hub to resubscribe")
        assert sub.messages.get(timeout=5) == RESYNC
        publisher = redis.Redis.from_url(private_redis.url)
        publisher.publish(names.push_channel("s-h"), '{"kind":"tick","n":3}')
        assert json.loads(sub.messages.get(timeout=5))["n"] == 3
        assert sub.messages.empty()  # nothing from the other session leaked in
    finally:
        hub.unsubscribe(sub)
        hub.stop()
        thread.join(10)
    assert hub.socket_count == 0


def test_a_socket_that_cannot_keep_up_is_marked_not_silently_fed_gaps() -> None:
    hub = PushHub(lambda: redis.Redis(), RedisNames("unused:"))
    sub = hub.subscribe("s-slow")
    for n in range(sub.messages.maxsize + 5):
        hub._deliver(b"unused:engagement-conductor:push:s-slow", str(n).encode())
    assert sub.overflowed
    assert sub.messages.qsize() == sub.messages.maxsize
