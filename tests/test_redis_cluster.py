"""Partitions on a Redis Cluster of three masters: routing, owning, a handover."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from app.runtime import Runtime
from services.core.platform import LIVE_SYNC_STREAM
from services.live.partition_map import read_partition_map
from services.storage.schema import engagement_metrics
from tests.conftest import RunCollector
from tests.redis_cluster import LocalCluster
from tests.waiting import wait_until


def _rows(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        result = conn.execute(
            sa.select(engagement_metrics.c.session_id, sa.func.count()).group_by(
                engagement_metrics.c.session_id
            )
        )
        return dict(result.all())


def test_two_collectors_share_partitions_on_a_cluster_and_hand_over(
    redis_cluster: LocalCluster, run_collector: RunCollector
) -> None:
    overrides = {"redis_url": redis_cluster.url, "redis_cluster": True, "partitions": 6}
    first = run_collector(lease_seconds=2, **overrides)
    second = run_collector(lease_seconds=2, **overrides)
    wait_until(
        lambda: len(first.owned) == 3 and len(second.owned) == 3 and first.last_tick,
        what="the partitions shared on the cluster",
    )
    client = redis.RedisCluster.from_url(redis_cluster.url)
    # The partition keys spread over the masters: the hash tags differ per partition.
    slots = {client.keyslot(first.names.partition_stream(p)) for p in range(6)}
    assert len(slots) == 6
    sessions = [f"c-{i}" for i in range(10)]
    for session in sessions:
        for user in ("u1", "u2"):
            payload = {"type": "user_join", "sessionId": session, "eventId": "e", "userId": user}
            client.xadd(first.names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)})
    engine = first.store.engine
    wait_until(
        lambda: all(_rows(engine).get(s, 0) >= 2 for s in sessions), what="every session scored"
    )
    first.stop()
    wait_until(lambda: len(second.owned) == 6, timeout=2, what="the hand-over on the cluster")
    before = _rows(engine)
    wait_until(
        lambda: all(_rows(engine)[s] >= before[s] + 2 for s in sessions),
        what="the heir scoring every session",
    )
    assert {second.book.windows[s].present_count for s in sessions} == {2}
    total = first.writer.stats.written_rows + second.writer.stats.written_rows
    assert total == sum(_rows(engine).values())
    client.close()


def test_the_cluster_runtime_builds_and_reads_the_partition_map(
    redis_cluster: LocalCluster, make_runtime: Callable[..., Runtime]
) -> None:
    runtime = make_runtime(redis_url=redis_cluster.url, redis_cluster=True, partitions=4)
    assert isinstance(runtime.redis, redis.RedisCluster)
    collector = runtime.collector
    assert collector is not None
    collector.take_turn(time.time())
    assert collector.owned == [0, 1, 2, 3]
    collector.share.hand_back([1])
    assert collector.owned == [0, 2, 3]
    infos = read_partition_map(runtime.redis, runtime.names, 4)
    me = collector.settings.consumer_name
    assert [info.owner for info in infos] == [me, None, me, me]
    assert infos[1].last_handover == {"released_by": me, "at": pytest.approx(time.time(), abs=30)}


def test_the_push_hub_hears_the_collectors_ticks_on_a_cluster(
    redis_cluster: LocalCluster, make_runtime: Callable[..., Runtime]
) -> None:
    runtime = make_runtime(redis_url=redis_cluster.url, redis_cluster=True, partitions=2)
    hub = runtime.hub
    thread = threading.Thread(target=hub.run, daemon=True)
    thread.start()
    try:
        subscription = hub.subscribe("c-push")
        wait_until(lambda: hub.connected, what="the hub subscribed on the cluster")
        collector = runtime.collector
        assert collector is not None
        collector.take_turn(time.time())
        payload = {"type": "user_join", "sessionId": "c-push", "eventId": "e", "userId": "u"}
        runtime.redis.xadd(collector.names.stream(LIVE_SYNC_STREAM), {"data": json.dumps(payload)})
        collector.router.route(None)
        collector.tick(float(int(time.time())))

        def tick_pushed() -> bool:
            while not subscription.messages.empty():
                if json.loads(subscription.messages.get())["kind"] == "tick":
                    return True
            return False

        wait_until(tick_pushed, what="the tick pushed through the cluster to the hub")
    finally:
        hub.stop()
        thread.join(10)


def test_a_local_cluster_never_gives_two_nodes_one_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CI: the system handed out one free port twice, and the second node's directory could not
    be made. Nor may a node listen on another's cluster bus port (port + 10,000)."""
    offered = iter([7001, 7001, 17001, 7002, 7001, 7003])
    monkeypatch.setattr("tests.redis_cluster._cluster_port", lambda: next(offered))
    assert LocalCluster(tmp_path).ports == [7001, 7002, 7003]
