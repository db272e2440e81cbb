"""`/health` and `/health/ready` tell the truth about Redis, the database and the collector."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from app.factory import create_app
from app.runtime import Runtime
from services.core.platform import LIVE_SYNC_STREAM
from services.core.settings import Settings
from tests.conftest import PG_ADMIN_URL, leading_and_ticking
from tests.redis_server import PrivateRedis
from tests.waiting import wait_until

StartServer = Callable[..., tuple[Runtime, FlaskClient]]


@pytest.fixture
def start_server(make_settings: Callable[..., Settings]) -> Iterator[StartServer]:
    runtimes: list[Runtime] = []

    def start(with_collector: bool = True, **overrides: Any) -> tuple[Runtime, FlaskClient]:
        settings = make_settings(**({"tick_seconds": 1.0} | overrides))
        runtime = Runtime.build(settings, with_collector=with_collector)
        app = create_app(runtime)
        runtime.start()
        runtimes.append(runtime)
        return runtime, app.server.test_client()

    yield start
    for runtime in runtimes:
        runtime.stop()


def health(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/health")
    return response.status_code, response.get_json()


def test_healthy_when_redis_database_collector_and_hub_are_all_up(
    start_server: StartServer,
) -> None:
    runtime, client = start_server()
    assert runtime.collector is not None
    # The group starts at the newest entry when the collector first leads; join after that.
    collector = runtime.collector
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")
    runtime.redis.xadd(
        runtime.names.stream(LIVE_SYNC_STREAM),
        {
            "data": json.dumps(
                {"type": "user_join", "sessionId": "s", "eventId": "e", "userId": "u"}
            )
        },
    )
    _, body = wait_until(
        lambda: (r := health(client))[0] == 200 and r[1]["collector"]["live_sessions"] == 1 and r,
        what="a healthy report with the session",
    )
    assert body["status"] == "healthy"
    assert (body["redis"], body["database"]) == ("connected", "connected")
    assert body["database_backend"] == "postgresql"
    assert body["collector"]["status"] == "running"
    [report] = body["collector"]["collectors"]
    assert report["role"] == "owner" and report["housekeeper"] is True
    assert report["partitions"] == list(range(runtime.settings.partitions))
    assert body["collector"]["unowned_partitions"] == []
    partitions = body["collector"]["partitions"]
    assert [p["owner"] for p in partitions] == [collector.settings.consumer_name] * 64
    assert {p["last_handover"]["kind"] for p in partitions} == {"first"}
    assert body["collector"]["last_tick"] is not None
    assert body["this_process"]["push_hub"] == "connected"
    assert client.get("/health/ready").status_code == 200


def test_a_web_only_server_reports_a_missing_collector(start_server: StartServer) -> None:
    runtime, client = start_server(with_collector=False)
    wait_until(lambda: runtime.hub.connected, what="the push hub")
    code, body = health(client)
    assert code == 503
    assert body["status"] == "degraded"
    assert body["collector"]["status"] == "absent"
    assert client.get("/health/ready").status_code == 200  # pages can still be served


def test_a_web_only_server_sees_another_process_collecting(start_server: StartServer) -> None:
    collecting, _ = start_server()
    _, web = start_server(
        with_collector=False, redis_key_prefix=collecting.settings.redis_key_prefix
    )
    _, body = wait_until(lambda: (r := health(web))[0] == 200 and r, what="healthy web server")
    consumers = [r["consumer"] for r in body["collector"]["collectors"]]
    assert consumers == [collecting.settings.consumer_name]
    assert body["this_process"]["collector"] is None


def test_degraded_while_redis_is_away_and_healthy_again_after(
    start_server: StartServer, private_redis: PrivateRedis
) -> None:
    _, client = start_server(redis_url=private_redis.url)
    wait_until(lambda: health(client)[0] == 200, what="healthy")
    private_redis.kill()
    code, body = health(client)
    assert code == 503
    assert (body["status"], body["redis"]) == ("degraded", "disconnected")
    assert client.get("/health/ready").status_code == 503
    private_redis.start()
    wait_until(lambda: health(client)[0] == 200, timeout=30, what="healthy after Redis returns")


def test_degraded_while_the_database_refuses_connections(
    start_server: StartServer, pg_url: str
) -> None:
    _, client = start_server()
    wait_until(lambda: health(client)[0] == 200, what="healthy")
    database = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
    try:
        code, body = health(client)
        assert code == 503
        assert (body["status"], body["database"]) == ("degraded", "disconnected")
        assert client.get("/health/ready").status_code == 503
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    wait_until(
        lambda: health(client)[0] == 200, timeout=40, what="healthy after the database returns"
    )


def test_every_worker_answers_the_same_from_the_collectors_shared_reports(
    start_server: StartServer,
) -> None:
    # Regression: the answer hung on the answering worker's own collector (a 40-s table lock
    # gave 200 from one worker and 503 from the other) and ignored the others' reports.
    collecting, first = start_server(health_pending_rows=500)
    _, second = start_server(
        with_collector=False,
        redis_key_prefix=collecting.settings.redis_key_prefix,
        health_pending_rows=500,
    )
    wait_until(lambda: health(first)[0] == 200 and health(second)[0] == 200, what="healthy")
    troubled = {
        "consumer": "other-host-1",
        "running": True,
        "partitions": [],
        "redis": "connected",
        "last_tick": time.time(),
        "live_sessions": 0,
        "pending_rows": 611_000,
        "dropped_rows": 33_975,
        "last_drop_at": time.time() - 5,
        "database_error": "OperationalError: canceling statement due to lock timeout",
        "ingest_lag_seconds": 0.0,
        "rss_mb": 1190.0,
        "updated_at": time.time(),
    }
    collecting.redis.hset(collecting.names.collector_reports, "other-host-1", json.dumps(troubled))
    answers = [health(first), health(second)]
    assert [code for code, _ in answers] == [503, 503]
    assert (
        answers[0][1]["reasons"]
        == answers[1][1]["reasons"]
        == [
            "collector other-host-1 cannot write to the database: OperationalError: canceling "
            "statement due to lock timeout",
            "collector other-host-1 has 611000 score rows waiting to be written (limit 500)",
            "collector other-host-1 is dropping score rows (33975 in total)",
        ]
    )


def test_a_collectors_report_carries_its_memory_drops_and_ingest_lag(
    start_server: StartServer,
) -> None:
    runtime, client = start_server()
    collector = runtime.collector
    assert collector is not None
    wait_until(lambda: leading_and_ticking(collector), what="a first tick")
    _, body = health(client)
    mine = body["this_process"]["collector"]
    assert 10 < mine["rss_mb"] < 100_000 and mine["last_drop_at"] is None
    assert mine["ingest_lag_seconds"] == 0.0
    assert body["collector"]["collectors"][0]["rss_mb"] == pytest.approx(mine["rss_mb"], rel=0.5)


def test_rows_a_killed_collector_held_are_counted_as_dropped_once(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: a killed leader's buffered rows never reached dropped_rows.
    runtime, client = start_server()
    collector = runtime.collector
    assert collector is not None
    wait_until(lambda: leading_and_ticking(collector), what="leadership and a first tick")
    wait_until(lambda: collector.is_housekeeper, what="the housekeeper lease")
    killed = {"consumer": "killed-1", "pending_rows": 1234, "updated_at": time.time() - 600}
    runtime.redis.hset(runtime.names.collector_reports, "killed-1", json.dumps(killed))
    _, body = wait_until(
        lambda: (r := health(client))[1]["collector"]["lost_rows"] == 1234 and r,
        what="the killed collector's rows counted",
    )
    assert body["collector"]["dropped_rows"] == 1234
    assert runtime.redis.hget(runtime.names.collector_reports, "killed-1") is None
    assert "collector killed-1 stopped reporting with 1234 score rows unwritten" in caplog.text
    collector.agent.run([])  # a later turn finds nothing more to count
    assert health(client)[1]["collector"]["lost_rows"] == 1234
