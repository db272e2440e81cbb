"""Shared fixtures: a throw-away PostgreSQL database and Redis key prefix per test."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy as sa

from app.runtime import Runtime
from services.agent.sender import Clock, utc_now
from services.core.settings import Settings, load_settings
from services.live.collector import EVENT_SETTINGS_SECONDS, HOUSEKEEPING_SECONDS, Collector
from services.storage.database import create_db_engine

# A private redis-server for the tests that kill and restart Redis; a local Redis Cluster;
# rooms on a simulated clock;
# the intervention desk that several test files decide with.
pytest_plugins = [
    "tests.redis_server",
    "tests.redis_cluster",
    "tests.clocked",
    "tests.desk_fixtures",
]

PG_ADMIN_URL = os.environ.get("EC_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("EC_TEST_REDIS", "redis://127.0.0.1:6379/0")
TIMESCALE_ADMIN_URL = os.environ.get(
    "EC_TEST_TIMESCALE_ADMIN", "postgresql://postgres@127.0.0.1:5433/postgres"
)


def _create_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    name = f"ec_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    url, drop = _create_database(PG_ADMIN_URL)
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        drop()


@pytest.fixture
def timescale_url() -> Iterator[str]:
    try:
        with psycopg.connect(TIMESCALE_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            available = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()
            if not available or "timescaledb" not in (preload[0] if preload else ""):
                pytest.skip(f"TimescaleDB is not installed and preloaded at {TIMESCALE_ADMIN_URL}")
            name = f"ec_test_{uuid.uuid4().hex[:12]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        pytest.skip(f"no TimescaleDB server at {TIMESCALE_ADMIN_URL} (EC_TEST_TIMESCALE_ADMIN)")
    try:
        yield TIMESCALE_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(TIMESCALE_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a fresh SQLite file, then on the test's own PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ec.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards."""
    prefix = f"ec-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in redis_client.scan_iter(match=f"{prefix}*", count=1000):
        redis_client.delete(key)


@pytest.fixture
def make_settings(pg_url: str, redis_prefix: str) -> Callable[..., Settings]:
    """Settings on the test's own database and prefix; keyword arguments override."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": pg_url,
            "redis_url": REDIS_URL,
            "redis_key_prefix": redis_prefix,
            "consumer_name": f"test-{uuid.uuid4().hex[:8]}",
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def make_runtime(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Runtime]]:
    """Runtimes on the test's own database and prefix, not started, disposed afterwards;
    keyword arguments override settings (`with_collector`, the intervals and the agent's
    clock go to the build)."""
    built: list[Runtime] = []

    def build(
        *,
        with_collector: bool = True,
        event_settings_every: float = EVENT_SETTINGS_SECONDS,
        housekeeping_every: float = HOUSEKEEPING_SECONDS,
        agent_clock: Clock = utc_now,
        **overrides: object,
    ) -> Runtime:
        runtime = Runtime.build(
            make_settings(**overrides),
            with_collector,
            event_settings_every=event_settings_every,
            housekeeping_every=housekeeping_every,
            agent_clock=agent_clock,
        )
        built.append(runtime)
        return runtime

    yield build
    for runtime in built:
        runtime.engine.dispose()


@pytest.fixture
def web_runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    """A web tier's runtime (no collector) on the test's database and prefix, not started: for
    tests that render pages and messages without serving them."""
    return make_runtime(with_collector=False)


RunCollector = Callable[..., Collector]


def leading_and_ticking(collector: Collector) -> bool:
    """Whether `collector` owns partitions and has scored a tick. Its consumer groups are made
    at the streams' ends before it takes a partition, so an event added before the first tick
    might never be read; a test adds events only after that."""
    return bool(collector.owned) and collector.last_tick is not None


@pytest.fixture
def run_collector(make_runtime: Callable[..., Runtime]) -> Iterator[RunCollector]:
    """Start collectors in threads, each its own consumer on a 1 s tick unless overridden;
    all are stopped afterwards."""
    running: list[tuple[Collector, threading.Thread]] = []

    def start(**overrides: object) -> Collector:
        collector = make_runtime(**({"tick_seconds": 1.0} | overrides)).collector
        assert collector is not None
        thread = threading.Thread(target=collector.run, daemon=True)
        thread.start()
        running.append((collector, thread))
        return collector

    yield start
    for collector, thread in running:
        collector.stop()
        thread.join(20)
