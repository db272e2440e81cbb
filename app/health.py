"""`GET /health` (the truth about every dependency) and `GET /health/ready` (can serve pages)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.runtime import Runtime
from services.core.redis_bus import REDIS_DOWN
from services.live.health_rules import HealthLimits, degraded_reasons
from services.live.partition_map import read_partition_map
from services.live.socket_quota import SocketQuota
from services.storage.database import database_reachable, failed_policy_jobs

health = Blueprint("health", __name__)


def _runtime() -> Runtime:
    return current_app.config["EC_RUNTIME"]


def _socket_quota() -> SocketQuota:
    return current_app.config["EC_SOCKET_QUOTA"]


def _redis_up(runtime: Runtime) -> bool:
    try:
        return bool(runtime.redis.ping())
    except REDIS_DOWN:
        return False


def _reports(runtime: Runtime, redis_up: bool) -> list[dict[str, Any]]:
    """Every collector's last report from Redis, or this process's own if Redis is away."""
    raw: dict[Any, Any] = {}
    if redis_up:
        with contextlib.suppress(*REDIS_DOWN):
            raw = runtime.redis.hgetall(runtime.names.collector_reports)
    reports = []
    for value in raw.values():
        try:
            report = json.loads(value)
        except ValueError:
            continue
        if isinstance(report, dict):
            reports.append(report)
    if not reports and runtime.collector is not None and runtime.collector.running:
        reports.append(runtime.collector.status().as_json() | {"updated_at": time.time()})
    return sorted(reports, key=lambda r: str(r.get("consumer")))


def collector_report(runtime: Runtime, redis_up: bool) -> dict[str, Any]:
    """The deployment's collectors: who is alive, what they score, and who owns what."""
    settings = runtime.settings
    stale_after = 3 * settings.tick_seconds + 2
    now = time.time()
    reports = _reports(runtime, redis_up)
    # A report older than a lease belongs to a collector that is gone.
    alive = [r for r in reports if now - float(r.get("updated_at") or 0) <= settings.lease_seconds]
    ticks = [r["last_tick"] for r in alive if r.get("last_tick") is not None]
    last_tick = max(ticks) if ticks else None
    partitions: list[dict[str, Any]] = []
    if redis_up:
        with contextlib.suppress(*REDIS_DOWN):
            partitions = [
                info.as_json()
                for info in read_partition_map(runtime.redis, runtime.names, settings.partitions)
            ]
    unowned = [p["partition"] for p in partitions if p["owner"] is None]
    lost_rows = 0
    if redis_up:
        with contextlib.suppress(*REDIS_DOWN, ValueError, TypeError):
            lost_rows = int(runtime.redis.hget(runtime.names.collector_losses, "rows") or 0)
    if not alive:
        status = "absent"
    elif last_tick is not None and now - last_tick <= stale_after:
        status = "running"
    else:
        status = "stale"
    return {
        "status": status,
        "last_tick": last_tick,
        "live_sessions": sum(int(r.get("live_sessions") or 0) for r in alive),
        "missed_ticks": sum(int(r.get("missed_ticks") or 0) for r in alive),
        # Rows dropped by the living, and rows lost with collectors that died holding them.
        "dropped_rows": sum(int(r.get("dropped_rows") or 0) for r in alive) + lost_rows,
        "lost_rows": lost_rows,
        "collectors": alive,
        "unowned_partitions": unowned,
        "partitions": partitions,
    }


def _failed_jobs(runtime: Runtime, db_up: bool) -> list[str]:
    if not db_up or runtime.database.backend != "timescaledb":
        return []
    try:
        return failed_policy_jobs(runtime.engine)
    except SQLAlchemyError:
        return []  # the database's own trouble is reported as such


@health.get("/health")
def health_check() -> tuple[Response, int]:
    """The deployment's health, the same from every worker: decided only from what every
    process reads alike (Redis, the database, every collector's last report). What this process
    alone knows (its push hub, its sockets) is shown under `this_process`, not judged."""
    runtime = _runtime()
    settings = runtime.settings
    redis_up = _redis_up(runtime)
    db_up = database_reachable(runtime.engine)
    collector = collector_report(runtime, redis_up)
    local = runtime.collector.status() if runtime.collector is not None else None
    reasons = degraded_reasons(
        redis_up=redis_up,
        database_up=db_up,
        collector=collector,
        failed_jobs=_failed_jobs(runtime, db_up),
        limits=HealthLimits(
            pending_rows=settings.health_pending_rows,
            ingest_lag_seconds=settings.health_ingest_lag_seconds,
            memory_mb=settings.health_memory_mb,
        ),
        now=time.time(),
    )
    # Degraded, not dead: every part reconnects by itself, and the body says what is wrong.
    status = "degraded" if reasons else "healthy"
    body = {
        "status": status,
        "reasons": reasons,
        "redis": "connected" if redis_up else "disconnected",
        "database": "connected" if db_up else "disconnected",
        "database_backend": runtime.database.backend,
        "collector": collector,
        "this_process": {
            "collector": local.as_json() if local is not None else None,
            "push_hub": "connected" if runtime.hub.connected else "disconnected",
            "open_sockets": _socket_quota().open,
            "refused_sockets": _socket_quota().refused,
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
