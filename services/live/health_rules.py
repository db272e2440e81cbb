"""When the deployment is healthy, and if not, why: pure rules over what every process can read
alike (Redis, the database, every collector's last report), so that `/health` says the same
whichever web worker answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HealthLimits:
    pending_rows: int = 100_000  # score rows waiting to be written
    ingest_lag_seconds: float = 30.0  # age of the platform entries being read
    memory_mb: float = 2048.0  # a collecting process's resident memory
    drop_window_seconds: float = 300.0  # rows dropped this recently count as "being dropped"


def degraded_reasons(
    *,
    redis_up: bool,
    database_up: bool,
    collector: Mapping[str, Any],
    failed_jobs: Sequence[str],
    limits: HealthLimits,
    now: float,
) -> list[str]:
    """Every reason the deployment is not healthy, in words an operator acts on; [] if it is.

    `collector` is the deployment's collector report (app/health.py): its status, its alive
    collectors' reports and the partitions nobody owns."""
    reasons = []
    if not redis_up:
        reasons.append("Redis is unreachable")
    if not database_up:
        reasons.append("the database is unreachable")
    status = collector.get("status")
    if status == "absent":
        reasons.append("no collector is running")
    elif status == "stale":
        reasons.append("no collector has scored a tick lately")
    unowned = collector.get("unowned_partitions") or []
    if unowned:
        shown = ", ".join(str(p) for p in unowned[:10]) + (", …" if len(unowned) > 10 else "")
        reasons.append(f"{len(unowned)} partition(s) without an owner: {shown}")
    for report in collector.get("collectors") or []:
        reasons += _collector_reasons(report, limits, now)
    reasons += [f"TimescaleDB job failed its last run: {job}" for job in failed_jobs]
    return reasons


def _collector_reasons(report: Mapping[str, Any], limits: HealthLimits, now: float) -> list[str]:
    name = str(report.get("consumer"))
    reasons = []
    if report.get("database_error"):
        reasons.append(f"collector {name} cannot write to the database: {report['database_error']}")
    if report.get("redis") == "disconnected":
        reasons.append(f"collector {name} cannot reach Redis")
    pending = int(report.get("pending_rows") or 0)
    if pending > limits.pending_rows:
        reasons.append(
            f"collector {name} has {pending} score rows waiting to be written "
            f"(limit {limits.pending_rows})"
        )
    last_drop = report.get("last_drop_at")
    if isinstance(last_drop, int | float) and now - last_drop <= limits.drop_window_seconds:
        reasons.append(
            f"collector {name} is dropping score rows ({report.get('dropped_rows')} in total)"
        )
    lag = report.get("ingest_lag_seconds")
    if isinstance(lag, int | float) and lag > limits.ingest_lag_seconds:
        reasons.append(
            f"collector {name} reads platform events {lag:.0f} s behind "
            f"(limit {limits.ingest_lag_seconds:g} s)"
        )
    memory = report.get("rss_mb")
    if isinstance(memory, int | float) and memory > limits.memory_mb:
        reasons.append(
            f"collector {name} uses {memory:.0f} MB of memory (limit {limits.memory_mb:g} MB)"
        )
    return reasons
