"""`/metrics`: the partition map and the collectors in Prometheus's format, for allowed networks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.factory import create_app
from app.runtime import Runtime
from services.agent.model_writer import BUDGET_SPENT, TIMED_OUT, Written, skipped
from services.agent.writing_pool import WritingCounters
from services.core.instruments import TICK_PHASES
from services.core.platform import LIVE_SYNC_STREAM
from services.core.settings import SettingsError, load_settings
from services.simulation.audience import MASS_EXIT_SECONDS
from services.storage.agent_settings import AgentSettingsStore
from tests.clocked import MassExit
from tests.redis_server import PrivateRedis
from tests.waiting import wait_until


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_the_partition_map_and_the_collectors_are_scraped(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(partitions=4)
    collector = runtime.collector
    assert collector is not None
    collector.take_turn(time.time())
    collector.share.hand_back([3])
    collector.tick(float(int(time.time())))  # a report in Redis, as every tick writes
    client = create_app(runtime).server.test_client()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = _samples(response.get_data(as_text=True))
    me = collector.settings.consumer_name
    prefix = "engagement_conductor_"
    assert samples[(prefix + "redis_up", ())] == 1.0
    assert samples[(prefix + "collectors", ())] == 1.0
    assert samples[(prefix + "partitions_owned", (("collector", me),))] == 3.0
    assert samples[(prefix + "partitions_unowned", ())] == 1.0
    owners = {
        dict(labels)["partition"]: dict(labels)["owner"]
        for (name, labels), value in samples.items()
        if name == prefix + "partition_owner" and value == 1.0
    }
    assert owners == {"0": me, "1": me, "2": me}
    assert samples[(prefix + "partition_lag", (("partition", "0"),))] == 0.0
    handovers = {
        dict(labels)["partition"]: dict(labels)["kind"]
        for name, labels in samples
        if name == prefix + "partition_last_handover_timestamp_seconds"
    }
    assert handovers == {"0": "first", "1": "first", "2": "first", "3": "released"}


def test_an_address_outside_the_allowed_networks_is_refused(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(with_collector=False, metrics_allowed_networks="10.0.0.0/8")
    client = create_app(runtime).server.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.9"}).status_code == 403
    assert client.get("/metrics").status_code == 403  # loopback is not in the list any more


def test_a_scrape_while_redis_is_away_says_so_instead_of_failing(
    make_runtime: Callable[..., Runtime], private_redis: PrivateRedis
) -> None:
    runtime = make_runtime(with_collector=False, redis_url=private_redis.url)
    client = create_app(runtime).server.test_client()
    private_redis.kill()
    response = client.get("/metrics")
    assert response.status_code == 200
    samples = _samples(response.get_data(as_text=True))
    assert samples[("engagement_conductor_redis_up", ())] == 0.0
    # Nothing from Redis, the process's own instruments still.
    assert not any(name.startswith("engagement_conductor_partition") for name, _ in samples)
    assert ("engagement_conductor_tick_seconds_count", ()) in samples


@pytest.mark.parametrize("value", ["10.0.0.0/33", "localhost", "10.0.0.1/8"])
def test_a_network_that_is_not_one_is_refused_at_start_up(value: str) -> None:
    with pytest.raises(SettingsError, match=r"METRICS_ALLOWED_NETWORKS: .* is not a network"):
        load_settings(metrics_allowed_networks=value)


def test_a_scrape_needs_no_sign_in_where_pages_do(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(with_collector=False, auth_secret="s" * 40)
    client = create_app(runtime).server.test_client()
    assert client.get("/metrics").status_code == 200
    assert client.get("/").status_code in (302, 401, 403)


def test_the_content_writers_counters_are_scraped_from_redis(
    make_runtime: Callable[..., Runtime],
) -> None:
    # Counted by whichever process wrote (services/agent/writing_pool.py), read by every one.
    runtime = make_runtime()
    counters = WritingCounters(runtime.redis, runtime.names)
    counters.count(Written(None, "m", tokens_in=100, tokens_out=40, cache_read=900))
    counters.count(skipped(BUDGET_SPENT))
    counters.count(Written(None, None, fallback=TIMED_OUT))
    counters.count(Written(None, None, fallback=TIMED_OUT))
    samples = _samples(create_app(runtime).server.test_client().get("/metrics").get_data(True))
    prefix = "engagement_conductor_content_"
    assert samples[(prefix + "fallbacks_total", (("reason", "timed out"),))] == 2.0
    assert samples[(prefix + "fallbacks_total", (("reason", "token budget spent"),))] == 1.0
    assert samples[(prefix + "tokens_total", (("kind", "in"),))] == 100.0
    assert samples[(prefix + "tokens_total", (("kind", "out"),))] == 40.0
    assert samples[(prefix + "tokens_total", (("kind", "cache_read"),))] == 900.0
    assert not any(name == prefix + "generations_total" for name, _ in samples)


def test_every_collector_series_is_scraped_and_moves_with_traffic(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(partitions=4)
    collector = runtime.collector
    assert collector is not None
    client = create_app(runtime).server.test_client()
    me = (("collector", collector.settings.consumer_name),)
    prefix = "engagement_conductor_"

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return _samples(client.get("/metrics").get_data(as_text=True))

    collector.take_turn(time.time())
    collector.tick(float(int(time.time())))
    before = scrape()
    stream = runtime.names.stream(LIVE_SYNC_STREAM)
    for n in range(3):
        join = {"type": "user_join", "sessionId": f"s{n}", "eventId": "e", "userId": "u"}
        runtime.redis.xadd(stream, {"data": json.dumps(join)})
    runtime.redis.xadd(stream, {"data": "not json"})
    collector.router.route(None)
    collector.tick(float(int(time.time())) + 1)
    after = scrape()
    for name in ("events_accepted_total", "events_rejected_total"):
        assert after[(prefix + name, me)] > before[(prefix + name, me)], name
    assert after[(prefix + "events_accepted_total", me)] == 3
    reasons = {
        dict(labels)["reason"]: value
        for (name, labels), value in after.items()
        if name == prefix + "events_rejected_by_reason_total"
    }
    assert reasons == {"data is not valid JSON": 1.0}
    dead = (prefix + "dead_letter_entries", ())
    assert after[dead] == before[dead] + 1
    assert (
        after[(prefix + "last_tick_timestamp_seconds", me)]
        > before[(prefix + "last_tick_timestamp_seconds", me)]
    )
    assert 0 < after[(prefix + "tick_duration_seconds", me)] < 5
    assert after[(prefix + "resident_memory_bytes", me)] > 10 * 2**20
    for name in (
        "events_stamped_ahead_total",
        "refused_session_events_total",
        "missed_ticks_total",
        "rows_dropped_total",
        "rows_pending",
        "ingest_lag_seconds",
    ):
        assert (prefix + name, me) in after, name


# The process's instruments that a simulated room moves (services/core/instruments.py); the
# socket ones are moved over the network in tests/browser/test_live_socket.py.
_ROOM_MOVES = (
    ("tick_seconds_count", ()),
    *(("tick_phase_seconds_count", (("phase", phase),)) for phase in TICK_PHASES),
    ("database_write_seconds_count", ()),
    ("lease_changes_total", (("change", "handed_back"),)),
    ("anomaly_episodes_total", (("type", "MASS_EXIT"),)),
    ("interventions_total", (("status", "executed"),)),
    ("http_requests_total", (("route", "/metrics"), ("status", "200"))),
    ("http_request_seconds_count", (("route", "/metrics"),)),
)


def test_every_process_instrument_moves_with_a_simulated_room(
    mass_exit: MassExit, make_runtime: Callable[..., Runtime]
) -> None:
    collector, room, session = mass_exit.collector, mass_exit.room, mass_exit.session
    AgentSettingsStore(collector.store.engine).update(session.event_id, {"mode": "AUTO"})
    client = create_app(make_runtime(with_collector=False)).server.test_client()

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = client.get("/metrics")
        assert response.status_code == 200
        return _samples(response.get_data(as_text=True))

    before = scrape()
    detector = collector.book.detector_defaults
    room.run_until(
        mass_exit.exit_at + MASS_EXIT_SECONDS + (detector.mass_exit_ticks + 1) * room.tick
    )
    wait_until(lambda: collector.writer.pending_rows == 0, what="the rows written")
    collector.share.hand_back(sorted(collector.owned)[:1])
    after = scrape()
    prefix = "engagement_conductor_"

    def total(
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float],
        name: str,
        labels: tuple[tuple[str, str], ...],
    ) -> float:
        """Of the series named `name`, those with `labels` (and any others) added up."""
        return sum(
            value
            for (found, found_labels), value in samples.items()
            if found == prefix + name and set(labels) <= set(found_labels)
        )

    for name, labels in _ROOM_MOVES:
        moved = total(after, name, labels) - total(before, name, labels)
        assert moved > 0, f"{name}{dict(labels)} did not move"
