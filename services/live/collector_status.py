"""What each collector reports about itself: its heartbeat in Redis, read by every web
process's health endpoint."""

from __future__ import annotations

from dataclasses import dataclass


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
            "pending_rows": self.pending_rows,
            "dropped_rows": self.dropped_rows,
            "missed_ticks": self.missed_ticks,
            "database_error": self.database_error,
            "intervention_outcomes": {
                "accepted": self.outcomes_accepted,
                "rejected": self.outcomes_rejected,
            },
        }
