"""`GET /health` (the truth about every dependency) and `GET /health/ready` (can serve pages)."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from app.runtime import Runtime
from services.core.redis_bus import REDIS_DOWN
from services.storage.database import database_reachable

health = Blueprint("health", __name__)


def _runtime() -> Runtime:
    return current_app.config["EC_RUNTIME"]


def _redis_up(runtime: Runtime) -> bool:
    try:
        return bool(runtime.redis.ping())
    except REDIS_DOWN:
        return False


def collector_report(runtime: Runtime, redis_up: bool) -> dict[str, Any]:
    """The leader's heartbeat from Redis, or what this process knows if Redis is away."""
    stale_after = 3 * runtime.settings.tick_seconds + 2
    beat: dict[str, Any] | None = None
    if redis_up:
        try:
            raw = runtime.redis.get(runtime.names.collector_status)
        except REDIS_DOWN:
            raw = None
        beat = json.loads(raw) if raw else None
    if beat is None and runtime.collector is not None and runtime.collector.is_leader:
        beat = runtime.collector.status().as_json() | {"updated_at": time.time()}
    if beat is None:
        return {"status": "absent", "last_tick": None, "live_sessions": 0}
    last_tick = beat.get("last_tick")
    fresh = last_tick is not None and time.time() - last_tick <= stale_after
    return beat | {"status": "running" if fresh else "stale"}


@health.get("/health")
def health_check() -> tuple[Response, int]:
    runtime = _runtime()
    redis_up = _redis_up(runtime)
    db_up = database_reachable(runtime.engine)
    collector = collector_report(runtime, redis_up)
    local = runtime.collector.status() if runtime.collector is not None else None
    buffering = local is not None and local.database_error is not None
    all_well = (
        redis_up
        and db_up
        and collector["status"] == "running"
        and not buffering
        and runtime.hub.connected
    )
    # Degraded, not dead: every part reconnects by itself, and the body says which is missing.
    status = "healthy" if all_well else "degraded"
    body = {
        "status": status,
        "redis": "connected" if redis_up else "disconnected",
        "database": "connected" if db_up else "disconnected",
        "database_backend": runtime.database.backend,
        "collector": collector,
        "this_process": {
            "collector": local.as_json() if local is not None else None,
            "push_hub": "connected" if runtime.hub.connected else "disconnected",
            "open_sockets": runtime.hub.socket_count,
        },
    }
    return jsonify(body), 200 if status == "healthy" else 503


@health.get("/health/ready")
def readiness() -> tuple[Response, int]:
    runtime = _runtime()
    redis_up = _redis_up(runtime)
    db_up = database_reachable(runtime.engine)
    ready = redis_up and db_up
    body = {"ready": ready, "redis": redis_up, "database": db_up}
    return jsonify(body), 200 if ready else 503
