"""`engagement-conductor serve`: gunicorn gevent workers serving pages, health and live sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import redis
from prometheus_client.parser import text_string_to_metric_families
from simple_websocket import Client
from simple_websocket.errors import ConnectionError as RefusedUpgrade

from app.production_server import GRACEFUL_SECONDS
from services.core.platform import LIVE_SYNC_STREAM
from services.core.redis_bus import RedisNames
from services.core.settings import Settings
from tests.http import get_json
from tests.live_client import connect_live
from tests.redis_server import free_port
from tests.waiting import wait_until


def serve_env(settings: Settings, port: int) -> dict[str, str]:
    """`serve` on the test's database and prefix, a 1-s tick, open access (these tests are
    about workers, sockets and stopping; access control has tests of its own)."""
    return os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "TICK_SECONDS": "1",
        "PORT": str(port),
        "ALLOW_OPEN_ACCESS": "true",
    }


def test_serve_runs_workers_that_score_and_push_over_websockets(
    make_settings: Callable[..., Settings], redis_client: redis.Redis
) -> None:
    settings = make_settings(tick_seconds=1.0)
    port = free_port()
    # Shared by both workers on purpose: each must still become a consumer of its own.
    env = serve_env(settings, port) | {"CONSUMER_NAME": "ec-serve"}
    script = Path(sys.executable).parent / "engagement-conductor"
    proc = subprocess.Popen(
        [str(script), "serve", "--workers", "2", "--migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    socket = None
    try:
        wait_until(lambda: get_json(base + "/health")[0] == 200, timeout=40, what="healthy")
        stream = settings.redis_key_prefix + LIVE_SYNC_STREAM
        for user in ("u1", "u2"):
            redis_client.xadd(
                stream,
                {
                    "data": json.dumps(
                        {
                            "type": "user_join",
                            "sessionId": "s-serve",
                            "eventId": "e",
                            "userId": user,
                        }
                    )
                },
            )

        def scored() -> dict[str, Any] | None:
            collector = get_json(base + "/health")[1].get("collector", {})
            shares = sorted(len(r["partitions"]) for r in collector.get("collectors", []))
            return collector if collector.get("live_sessions") == 1 and shares == [32, 32] else None

        # Both workers' collectors share the partitions evenly; one of them scores the session.
        report = wait_until(scored, timeout=20, what="the session to be scored, shares even")
        assert all(r["consumer"].startswith("ec-serve-") for r in report["collectors"])
        # Rows are written from the writer's thread, just after the heartbeat that counted
        # the session: until the catalogue row lands, the socket answers 404.
        socket = wait_until(
            lambda: _connect(f"ws://127.0.0.1:{port}/ws/live/s-serve"),
            timeout=10,
            what="the session's catalogue row",
        )
        backfill = json.loads(socket.receive(timeout=10))
        assert backfill["kind"] == "backfill" and backfill["points"]
        tick = json.loads(socket.receive(timeout=10))
        assert (tick["kind"], tick["sessionId"]) == ("tick", "s-serve")
        assert tick["signals"]["total_users"] == 2
        with urllib.request.urlopen(base + "/live/s-serve", timeout=5) as page:
            assert page.status == 200
        # Whichever worker answers a scrape adds up every worker's instruments.
        for _ in range(10):
            assert get_json(base + "/health/ready")[0] == 200
        for _ in range(4):
            samples = _scrape(base)
            assert samples[("engagement_conductor_open_sockets", ())] == 1.0
            ready = (
                "engagement_conductor_http_requests_total",
                (("route", "/health/ready"), ("status", "200")),
            )
            assert samples[ready] == 10.0
            assert samples[("engagement_conductor_push_latency_seconds_count", ())] >= 1
            assert samples[("engagement_conductor_tick_seconds_count", ())] >= 1
            assert ("engagement_conductor_collectors", ()) in samples  # and the shared series
    finally:
        if socket is not None:
            socket.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        finally:
            if proc.poll() is None:
                proc.kill()
    _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    # ssl loaded before gunicorn's gevent patching would leave sockets half-patched.
    assert "MonkeyPatchWarning" not in stderr


def _scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
        body = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def _connect(url: str) -> Client | None:
    try:
        return connect_live(url)
    except RefusedUpgrade:
        return None


def test_serve_stopped_with_a_backlog_logs_and_counts_the_rows_it_leaves(
    make_settings: Callable[..., Settings], redis_client: redis.Redis, tmp_path: Path
) -> None:
    """#15: a worker stopped while its writes waited on a lock was killed at the end of
    gunicorn's grace period, before it logged the rows it left; now it gives up in time."""
    settings = make_settings(tick_seconds=1.0)
    port = free_port()
    env = serve_env(settings, port)
    script = Path(sys.executable).parent / "engagement-conductor"
    log_path = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    plain_url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [str(script), "serve", "--workers", "1", "--migrate"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            wait_until(lambda: get_json(base + "/health")[0] == 200, timeout=40, what="healthy")
            join = {"type": "user_join", "sessionId": "s-b", "eventId": "e", "userId": "u"}
            stream = settings.redis_key_prefix + LIVE_SYNC_STREAM
            redis_client.xadd(stream, {"data": json.dumps(join)})
            with psycopg.connect(plain_url, autocommit=False) as locker:
                locker.execute("LOCK TABLE engagement_metrics IN EXCLUSIVE MODE")
                wait_until(
                    lambda: _pending_rows(base) >= 2, timeout=20, what="rows waiting on the lock"
                )
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                proc.wait(40)
                stopped_in = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
    log = log_path.read_text()
    assert proc.returncode == 0, log[-2000:]
    assert stopped_in < GRACEFUL_SECONDS  # not killed at the end of gunicorn's grace period
    assert "score rows unwritten" in log, log[-2000:]
    losses = redis_client.hget(RedisNames(settings.redis_key_prefix).collector_losses, "rows")
    assert losses is not None and int(losses) >= 2


def _pending_rows(base: str) -> int:
    """Every collector's pending rows, from /health; 0 while it does not answer."""
    report = get_json(base + "/health")[1].get("collector") or {}
    return sum(int(c.get("pending_rows") or 0) for c in report.get("collectors", []))
