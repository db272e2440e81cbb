"""The health rules: each reason the deployment is degraded, in words, from shared facts."""

from __future__ import annotations

from typing import Any

from services.live.health_rules import HealthLimits, degraded_reasons

NOW = 1_800_000_000.0
LIMITS = HealthLimits(pending_rows=1000, ingest_lag_seconds=30, memory_mb=512)


def report(**changes: Any) -> dict[str, Any]:
    return {
        "consumer": "c1",
        "redis": "connected",
        "database_error": None,
        "pending_rows": 10,
        "dropped_rows": 0,
        "last_drop_at": None,
        "ingest_lag_seconds": 0.0,
        "rss_mb": 200.0,
    } | changes


def reasons(
    redis_up: bool = True,
    database_up: bool = True,
    status: str = "running",
    unowned: list[int] | None = None,
    collectors: list[dict[str, Any]] | None = None,
    failed_jobs: list[str] | None = None,
) -> list[str]:
    collector = {
        "status": status,
        "unowned_partitions": unowned or [],
        "collectors": [report()] if collectors is None else collectors,
    }
    return degraded_reasons(
        redis_up=redis_up,
        database_up=database_up,
        collector=collector,
        failed_jobs=failed_jobs or [],
        limits=LIMITS,
        now=NOW,
    )


def test_all_well_has_no_reason() -> None:
    assert reasons() == []
    # At the limits is still well: only past them is a reason.
    at_limits = report(pending_rows=1000, ingest_lag_seconds=30.0, rss_mb=512.0)
    assert reasons(collectors=[at_limits]) == []
    assert reasons(collectors=[report(last_drop_at=NOW - 300.5)]) == []


def test_each_dependency_and_the_collectors_state_is_named() -> None:
    assert reasons(redis_up=False) == ["Redis is unreachable"]
    assert reasons(database_up=False) == ["the database is unreachable"]
    assert reasons(status="absent", collectors=[]) == ["no collector is running"]
    assert reasons(status="stale") == ["no collector has scored a tick lately"]
    assert reasons(unowned=[3, 17]) == ["2 partition(s) without an owner: 3, 17"]
    ten = reasons(unowned=list(range(10)))
    assert ten == ["10 partition(s) without an owner: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"]
    eleven = reasons(unowned=list(range(11)))
    assert eleven == ["11 partition(s) without an owner: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …"]
    assert reasons(failed_jobs=["Refresh Continuous Aggregate Policy [1000] on metrics_1m"]) == [
        "TimescaleDB job failed its last run: Refresh Continuous Aggregate Policy [1000] on "
        "metrics_1m"
    ]


def test_each_collector_trouble_is_named_with_its_numbers() -> None:
    trouble = report(
        consumer="host-7",
        redis="disconnected",
        database_error="OperationalError: connection refused",
        pending_rows=1001,
        dropped_rows=34,
        last_drop_at=NOW - 300,
        ingest_lag_seconds=30.4,
        rss_mb=512.3,
    )
    assert reasons(collectors=[report(), trouble]) == [
        "collector host-7 cannot write to the database: OperationalError: connection refused",
        "collector host-7 cannot reach Redis",
        "collector host-7 has 1001 score rows waiting to be written (limit 1000)",
        "collector host-7 is dropping score rows (34 in total)",
        "collector host-7 reads platform events 30 s behind (limit 30 s)",
        "collector host-7 uses 512 MB of memory (limit 512 MB)",
    ]
    # Reports from older versions lack the new fields: no reason is made up for them.
    old = {"consumer": "old", "redis": "connected"}
    strict = HealthLimits(pending_rows=0)
    collector = {"status": "running", "collectors": [old]}
    assert (
        degraded_reasons(
            redis_up=True,
            database_up=True,
            collector=collector,
            failed_jobs=[],
            limits=strict,
            now=NOW,
        )
        == []
    )
