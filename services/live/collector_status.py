"""What each collector reports about itself: its heartbeat in Redis, read by every web
process's health endpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(slots=True)
class CollectorStatus:
    consumer: str
    running: bool
    housekeeper: bool
    partitions: list[int]  # the partitions it owns
    redis_ok: bool
    last_tick: float | None
    last_tick_ms: float | None
    live_sessions: int
    accepted: int
    rejected: int
    pending_rows: int
    dropped_rows: int
    database_error: str | None
    missed_ticks: int = 0
    outcomes_accepted: int = 0
    outcomes_rejected: int = 0
    last_drop_at: float | None = None
    ingest_lag_seconds: float = 0.0
    rss_mb: float | None = None
    stamped_ahead: int = 0  # entries stamped too far ahead of our clock, taken as of now
    refused_session_events: int = 0  # events of new sessions beyond the limits
    # By the kind of rejection (a closed set: services/ingest/contracts.rejection_key).
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def role(self) -> str:
        if not self.running:
            return "stopped"
        return "owner" if self.partitions else "standby"

    def as_json(self) -> dict[str, object]:
        return {
            "consumer": self.consumer,
            "running": self.running,
            "role": self.role,
            "housekeeper": self.housekeeper,
            "partitions": self.partitions,
            "redis": "connected" if self.redis_ok else "disconnected",
            "last_tick": self.last_tick,
            "last_tick_ms": self.last_tick_ms,
            "live_sessions": self.live_sessions,
            "accepted_events": self.accepted,
            "rejected_events": self.rejected,
            "rejected_by_reason": self.rejected_by_reason,
            "pending_rows": self.pending_rows,
            "dropped_rows": self.dropped_rows,
            "missed_ticks": self.missed_ticks,
            "database_error": self.database_error,
            "last_drop_at": self.last_drop_at,
            "ingest_lag_seconds": round(self.ingest_lag_seconds, 1),
            "rss_mb": self.rss_mb,
            "events_stamped_ahead": self.stamped_ahead,
            "refused_session_events": self.refused_session_events,
            "intervention_outcomes": {
                "accepted": self.outcomes_accepted,
                "rejected": self.outcomes_rejected,
            },
        }


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux's /proc), None where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
