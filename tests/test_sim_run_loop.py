"""The simulator's run loop against a real Redis: it hears agent.interventions and answers on the
outcome stream, resubscribes after Redis restarts, and does the same on the demo's embedded
Redis."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import redis

from services.core.platform import POLL_CLOSED_STREAM
from services.core.redis_bus import RedisNames
from services.simulation.simulator import Simulator
from tests.conftest import REDIS_URL
from tests.redis_server import PrivateRedis
from tests.sim_orders import C, G, N, P, order, rooms
from tests.waiting import wait_until


@contextlib.contextmanager
def simulator_running(
    client: redis.Redis, names: RedisNames
) -> Iterator[tuple[Simulator, threading.Thread]]:
    sim = Simulator(rooms(2, 40), seed=3, start=time.time())
    stop = threading.Event()
    thread = threading.Thread(target=sim.run, args=(client, names, stop, 0.05), daemon=True)
    thread.start()
    try:
        yield sim, thread
    finally:
        stop.set()
        thread.join(15)
        client.close()
    assert not thread.is_alive()


def outcomes(client: redis.Redis, names: RedisNames) -> dict[str, dict[str, Any]]:
    entries = client.xrange(names.outcome_stream)
    found = [json.loads(fields[b"data"]) for _, fields in entries]
    return {outcome["intervention_id"]: outcome for outcome in found}


def send(client: redis.Redis, names: RedisNames, message: dict[str, Any] | str) -> None:
    channel = names.agent_channel
    wait_until(
        lambda: dict(client.pubsub_numsub(channel)).get(channel.encode()),
        timeout=30,
        what="the simulator to subscribe",
    )
    client.publish(channel, message if isinstance(message, str) else json.dumps(message))


def test_run_answers_interventions_on_the_outcome_stream(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    names = RedisNames(redis_prefix)
    own = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    with simulator_running(own, names) as (sim, thread):
        quick = {"question": "Quick one?", "options": ["Yes", "No"], "duration": 1}
        send(redis_client, names, order(P, "room-1", "ok", poll=quick))
        send(redis_client, names, '{"intervention_id": "iv-broken", "session_id": ')
        send(redis_client, names, "no id at all")
        send(redis_client, names, order(C, "room-9", "lost"))
        wait_until(lambda: len(outcomes(redis_client, names)) >= 3, what="three outcomes")
        assert thread.is_alive()
        found = outcomes(redis_client, names)
        assert set(found) == {"iv-room-1-ok", "iv-broken", "iv-room-9-lost"}
        ok = found["iv-room-1-ok"]
        assert ok["success"] is True and ok["result"]["poll_opened"] is True
        assert (ok["session_id"], ok["event_id"]) == ("room-1", "evt")
        assert found["iv-broken"]["success"] is False and "JSON" in found["iv-broken"]["error"]
        assert found["iv-room-9-lost"]["success"] is False
        assert "unknown session" in found["iv-room-9-lost"]["error"]

        def closed_questions() -> list[str]:
            entries = redis_client.xrange(names.stream(POLL_CLOSED_STREAM))
            return [json.loads(fields[b"data"])["poll"]["question"] for _, fields in entries]

        wait_until(lambda: "Quick one?" in closed_questions(), what="the delivered poll to close")
        (truth,) = sim.ground_truth_interventions()
        assert (truth.session_id, truth.intervention_type) == ("room-1", P)


def answered(
    client: redis.Redis, names: RedisNames, message: dict[str, Any], thread: threading.Thread
) -> dict[str, Any]:
    """Publish `message` until its outcome is on the stream (again every 2 s: pub/sub keeps
    nothing, and a message sent while the simulator is between subscriptions is lost)."""
    key, sent = message["intervention_id"], [-math.inf]

    def outcome() -> dict[str, Any] | None:
        assert thread.is_alive(), "the simulator's thread died"
        found = outcomes(client, names).get(key)
        if found is None and time.monotonic() - sent[0] > 2.0:
            send(client, names, message)
            sent[0] = time.monotonic()
        return found

    return wait_until(outcome, timeout=30, what=f"the outcome of {key}")


def test_run_resubscribes_after_redis_restarts(private_redis: PrivateRedis) -> None:
    names = RedisNames(f"sim-{uuid.uuid4().hex[:6]}:")
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    own = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    with simulator_running(own, names) as (_, thread):
        assert answered(client, names, order(G, "room-0", "before"), thread)["success"] is True
        private_redis.kill()
        private_redis.start()  # an empty server: the subscription must be renewed
        assert answered(client, names, order(N, "room-1", "after"), thread)["success"] is True
    client.close()


def test_the_embedded_platform_answers_too() -> None:
    """The demo's in-process Redis (fakeredis) carries interventions and outcomes the same way."""
    server = fakeredis.FakeServer()
    desk = fakeredis.FakeRedis(server=server)
    names = RedisNames("demo:")
    with simulator_running(fakeredis.FakeRedis(server=server), names) as (_, thread):
        outcome = answered(desk, names, order(C, "room-0"), thread)
    assert outcome["success"] is True and outcome["result"]["message_id"]
