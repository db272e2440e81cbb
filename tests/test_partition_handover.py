"""A partition changing hands: the new owner rebuilds the old owner's state exactly.

Both collectors are driven tick by tick on a simulated clock (entries stamped with simulated
time), so the old owner can be "killed" (abandoned without handing back, as kill -9 leaves it)
at a chosen moment and then carry on in memory as the undisturbed control.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from app.runtime import Runtime
from services.core.platform import CHAT_STREAM, LIVE_SYNC_STREAM, REACTION_STREAM
from services.core.redis_bus import RedisNames
from services.core.settings import Settings
from services.live.checkpoints import _OurClassesOnly
from services.live.collector import Collector
from services.storage.database import create_db_engine
from services.storage.schema import engagement_metrics
from tests.conftest import RunCollector
from tests.waiting import wait_until

T0 = 1_700_000_000.0
SESSIONS = [f"room-{i}" for i in range(12)]


def _publish(client: redis.Redis, collector: Collector, at: float, rng: random.Random) -> None:
    """A second of a lively room: joins early, chat and reactions, a mass exit in room-0."""
    names = collector.names
    stamp = f"{round(at * 1000)}-*"
    pipe = client.pipeline(transaction=False)
    for session in SESSIONS:
        if at - T0 < 3:
            for user in range(10):
                payload = {
                    "type": "user_join",
                    "sessionId": session,
                    "eventId": "ev",
                    "userId": f"{session}-u{user}",
                }
                pipe.xadd(names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)}, id=stamp)
        for _ in range(rng.randint(0, 3)):
            payload = {
                "sessionId": session,
                "message": {"authorId": f"{session}-u{rng.randint(0, 9)}"},
            }
            pipe.xadd(names.stream(CHAT_STREAM), {"data": json.dumps(payload)}, id=stamp)
        if rng.random() < 0.5:
            payload = {
                "sessionId": session,
                "userId": f"{session}-u{rng.randint(0, 9)}",
                "emoji": "+",
            }
            pipe.xadd(names.stream(REACTION_STREAM), {"data": json.dumps(payload)}, id=stamp)
    if at - T0 == 40:
        for user in range(7):
            payload = {
                "type": "user_leave",
                "sessionId": "room-0",
                "eventId": "ev",
                "userId": f"room-0-u{user}",
            }
            pipe.xadd(names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)}, id=stamp)
    pipe.execute()


def _step(client: redis.Redis, collector: Collector, at: float, rng: random.Random) -> None:
    _publish(client, collector, at, rng)
    while collector.router.route(None):
        pass
    collector.tick(at)


def _outputs(collector: Collector, at: float) -> tuple:
    out = collector.book.score_tick(at)
    return (
        sorted(
            (u["sessionId"], u["score"], tuple(sorted(u["signals"].items()))) for u in out.updates
        ),
        sorted((r["episode_id"], r["severity"], r["ended_at"]) for r in out.episodes.rows),
    )


def test_a_killed_owners_partitions_are_rebuilt_to_the_same_scores(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    settings = {"tick_seconds": 1.0, "partitions": 4, "lease_seconds": 1, "checkpoint_seconds": 7}
    old = make_runtime(**settings).collector
    assert old is not None
    old.take_turn(time.time())
    assert old.owned == [0, 1, 2, 3]
    old.writer.start()
    rng = random.Random(3)
    # 45 ticks: checkpoints every 7, a mass exit at 40; killed 4 ticks after a checkpoint.
    for k in range(1, 46):
        _step(redis_client, old, T0 + k, rng)
    opened = {r[0] for r in _outputs_episodes(old)}
    # Events routed after the last tick, applied by the old owner before it died.
    _publish(redis_client, old, T0 + 45.5, rng)
    while old.router.route(None):
        pass
    old.share.read()
    old.writer.stop()

    heir = make_runtime(**settings).collector
    assert heir is not None
    # The dead owner's leases run out within LEASE_SECONDS; then the heir takes everything.
    wait_until(
        lambda: heir.take_turn(time.time()) or len(heir.owned) == 4,
        timeout=5,
        what="the heir to take the dead owner's partitions",
    )
    assert {h.kind for h in heir.share.handovers} == {"lease ran out"}
    assert {h.previous for h in heir.share.handovers} == {old.settings.consumer_name}
    assert sum(h.replayed_ticks for h in heir.share.handovers) > 0
    assert sorted(heir.book.windows) == sorted(old.book.windows)
    assert _outputs_episodes(heir) == _outputs_episodes(old)
    assert opened, "the scenario opens an episode"
    # The next ticks score the same on both: the control (the old owner's memory) and the heir.
    for k in range(46, 52):
        assert _outputs(heir, T0 + k) == _outputs(old, T0 + k)


def test_ticks_nobody_scored_are_scored_late_by_the_heir_as_the_old_owner_would_have(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    settings = {"tick_seconds": 1.0, "partitions": 4, "lease_seconds": 1, "checkpoint_seconds": 7}
    old = make_runtime(**settings).collector
    assert old is not None
    old.take_turn(time.time())
    rng = random.Random(8)
    for k in range(1, 20):
        _step(redis_client, old, T0 + k, rng)
    _publish(redis_client, old, T0 + 19.5, rng)
    while old.router.route(None):
        pass
    old.share.read()
    heir = make_runtime(**settings).collector
    assert heir is not None
    # The heir ticked its own partitions at 20, 21 and 22 while the dead owner's leases ran out.
    heir.share.last_tick = T0 + 22
    wait_until(
        lambda: heir.share.turn(time.time()) or len(heir.owned) == 4,
        timeout=5,
        what="the heir to take the dead owner's partitions",
    )
    late = heir.share.late_ticks
    # Three ticks for each of the four partitions, each scored once.
    assert sum(h.late_ticks for h in heir.share.handovers) == len(late) == 4 * 3
    by_tick: dict[float, list] = {}
    for out in late:
        by_tick.setdefault(out.tick_time.timestamp(), []).extend(out.updates)
    assert sorted(by_tick) == [T0 + 20, T0 + 21, T0 + 22]
    for k in (20, 21, 22):
        control = old.book.score_tick(T0 + k)
        assert _updates(by_tick[T0 + k]) == _updates(control.updates)
    # Scored through 22: the heir's next tick (23) is its first live one for them.
    assert heir.share.already_scored(T0 + 22) == {0, 1, 2, 3}
    assert heir.share.already_scored(T0 + 23) == set()


def _updates(updates: list[dict]) -> list[tuple]:
    return sorted(
        (u["sessionId"], u["score"], tuple(sorted(u["signals"].items()))) for u in updates
    )


def _outputs_episodes(collector: Collector) -> list[tuple]:
    return sorted(
        (row["episode_id"], row["type"], row["severity"])
        for row in collector.book.episodes._open.values()
    )


def test_a_clean_stop_hands_over_with_nothing_to_replay(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    settings = {"tick_seconds": 1.0, "partitions": 4, "lease_seconds": 15}
    old = make_runtime(**settings).collector
    assert old is not None
    old.take_turn(time.time())
    old.writer.start()
    rng = random.Random(5)
    for k in range(1, 12):
        _step(redis_client, old, T0 + k, rng)
    old.share.hand_back_all()
    old.writer.stop()
    heir = make_runtime(**settings).collector
    assert heir is not None
    heir.take_turn(time.time())  # no waiting for a lease: they were handed back
    assert len(heir.owned) == 4
    assert {h.kind for h in heir.share.handovers} == {"handed over"}
    assert sum(h.replayed_entries + h.replayed_ticks for h in heir.share.handovers) == 0
    assert heir.book.windows.keys() == {s for s in SESSIONS}
    # The old owner let go of its sessions; the heir has the rooms as they were.
    assert all(heir.book.windows[s].present_count == 10 for s in SESSIONS)
    assert not old.book.windows


def test_a_checkpoint_of_sessions_with_open_episodes_loads_back_whole(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    settings = {"tick_seconds": 1.0, "partitions": 4, "lease_seconds": 1, "checkpoint_seconds": 7}
    owner = make_runtime(**settings).collector
    assert owner is not None
    owner.take_turn(time.time())
    rng = random.Random(3)
    for k in range(1, 46):  # the scenario's mass exit at 40 leaves an episode open
        _step(redis_client, owner, T0 + k, rng)
    assert owner.book.episodes._open
    owner.share.save(owner.owned)
    loaded = [owner.share.checkpoints.load(p) for p in owner.owned]
    assert all(checkpoint is not None for checkpoint in loaded)
    episodes = {k for c in loaded if c is not None for k in c.state.open_episodes}
    assert episodes == set(owner.book.episodes._open)


def test_a_checkpoint_holding_anything_but_session_state_is_not_loaded(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    collector = make_runtime(partitions=2).collector
    assert collector is not None

    class Evil:
        def __reduce__(self) -> tuple:
            return (print, ("pwned",))

    redis_client.set(collector.names.partition_checkpoint(0), pickle.dumps((1, Evil())))
    redis_client.set(collector.names.partition_checkpoint(1), b"\x00garbage")
    assert collector.share.checkpoints.load(0) is None
    assert collector.share.checkpoints.load(1) is None
    collector.take_turn(time.time())  # takes both, falls back to replaying
    assert collector.owned == [0, 1]
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.print may not be loaded"):
        _OurClassesOnly(io.BytesIO(pickle.dumps(Evil()))).load()


def test_after_kill_9_of_the_owner_process_the_heir_counts_everyone_still_present(
    make_settings: Callable[..., Settings],
    run_collector: RunCollector,
    redis_client: redis.Redis,
) -> None:
    """The defect this design removes: after a failover a viewer who joined and never interacts
    was never counted again (audience 10 read 7.0)."""
    settings = make_settings(tick_seconds=1.0)
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "TICK_SECONDS": "1",
        "LEASE_SECONDS": "2",
        "CHECKPOINT_SECONDS": "2",
        "PARTITIONS": "8",
        "CONSUMER_NAME": "doomed",
    }
    script = Path(sys.executable).parent / "engagement-conductor"
    proc = subprocess.Popen(
        [str(script), "collect", "--migrate"], env=env, stderr=subprocess.DEVNULL
    )
    names = RedisNames(settings.redis_key_prefix)
    try:
        wait_until(
            lambda: redis_client.get(names.partition_owner(7)) == b"doomed",
            timeout=30,
            what="the owner process to take its partitions",
        )
        sessions = [f"quiet-{i}" for i in range(8)]
        for session in sessions:
            for user in range(10):
                payload = {"type": "user_join", "sessionId": session, "eventId": "e",
                           "userId": f"u{user}"}  # fmt: skip
                redis_client.xadd(names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)})
        engine = create_db_engine(settings.database_url)
        # Checkpoints saved with everyone in (every 2 s), then no event at all: kill -9.
        wait_until(
            lambda: all(len(_present(engine, s)) >= 4 for s in sessions),
            timeout=30,
            what="four ticks of every session, checkpointed",
        )
        # The joins grow older than the partition streams keep: only the checkpoints hold them.
        upto = f"{int(time.time() * 1000)}-0"
        for partition in range(8):
            redis_client.xtrim(names.partition_stream(partition), minid=upto, approximate=False)
        proc.kill()
        proc.wait(10)
        killed_at = time.time()
        heir = run_collector(tick_seconds=1.0, lease_seconds=2, checkpoint_seconds=2, partitions=8)
        wait_until(lambda: len(heir.owned) == 8, timeout=10, what="the heir to take over")
        wait_until(
            lambda: all(any(t > killed_at + 2 for t in _present(engine, s)) for s in sessions),
            what="the heir's ticks of every session",
        )
        after = [p for s in sessions for t, p in _present(engine, s).items() if t > killed_at]
        assert set(after) == {10}
        assert {h.kind for h in heir.share.handovers} == {"lease ran out"}
        engine.dispose()
    finally:
        if proc.poll() is None:
            proc.kill()


def _present(engine: sa.Engine, session: str) -> dict[float, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(engagement_metrics.c.time, engagement_metrics.c.extra).where(
                engagement_metrics.c.session_id == session
            )
        ).all()
    return {row.time.timestamp(): row.extra["total_users"] for row in rows}


def test_ticks_too_many_to_make_up_after_a_long_outage_are_counted_as_missed(
    make_runtime: Callable[..., Runtime], redis_client: redis.Redis
) -> None:
    # Regression: gaps of 12, 16 and 36 ticks after outages never reached missed_ticks.
    settings = {"tick_seconds": 1.0, "partitions": 4, "lease_seconds": 1, "checkpoint_seconds": 7}
    old = make_runtime(**settings).collector
    assert old is not None
    old.take_turn(time.time())
    rng = random.Random(8)
    for k in range(1, 20):
        _step(redis_client, old, T0 + k, rng)
    heir = make_runtime(**settings).collector
    assert heir is not None
    # The heir's own ticks ran on 30 s past the old owner's last (19): far more than a lease.
    heir.share.last_tick = T0 + 49
    wait_until(
        lambda: heir.share.turn(time.time()) or len(heir.owned) == 4,
        timeout=5,
        what="the heir to take the dead owner's partitions",
    )
    assert heir.share.late_ticks == []  # not made up: too many
    assert heir.share.unscored_ticks == 4 * 30  # but counted, for each partition
    assert heir.status().missed_ticks == 4 * 30
