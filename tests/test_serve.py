"""`engagement-conductor serve`: gunicorn gevent workers serving pages, health and live sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from simple_websocket import Client
from simple_websocket.errors import ConnectionError as RefusedUpgrade

from services.core.platform import LIVE_SYNC_STREAM
from services.core.settings import Settings
from tests.http import get_json
from tests.redis_server import free_port
from tests.waiting import wait_until


def test_serve_runs_workers_that_score_and_push_over_websockets(
    make_settings: Callable[..., Settings], redis_client: redis.Redis
) -> None:
    settings = make_settings(tick_seconds=1.0)
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "TICK_SECONDS": "1",
        "PORT": str(port),
        # Shared by both workers on purpose: each must still become a consumer of its own.
        "CONSUMER_NAME": "ec-serve",
        # This test is about workers and sockets; access control has tests of its own.
        "ALLOW_OPEN_ACCESS": "true",
    }
    script = Path(sys.executable).parent / "engagement-conductor"
    proc = subprocess.Popen(
        [str(script), "serve", "--workers", "2"],
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


def _connect(url: str) -> Client | None:
    try:
        return Client.connect(url)
    except RefusedUpgrade:
        return None
