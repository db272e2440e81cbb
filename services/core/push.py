"""The browser push protocol: what the collector and the desk publish and live pages read."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def episode_json(row: Any) -> dict[str, Any]:
    """The EPISODE object of pushes and backfills, from an anomalies row (mapping or Row)."""
    get = row.get if isinstance(row, dict) else lambda key: getattr(row, key)
    return {
        "episodeId": get("episode_id"),
        "sessionId": get("session_id"),
        "eventId": get("event_id"),
        "type": get("type"),
        "severity": get("severity"),
        "startedAt": _iso(get("time")),
        "endedAt": _iso(get("ended_at")),
        "recovered": get("recovered"),
        "recoverySeconds": get("recovery_seconds"),
        "anomalyScore": get("anomaly_score"),
        "currentEngagement": get("current_engagement"),
        "expectedEngagement": get("expected_engagement"),
        "deviation": get("deviation"),
        "explanation": get("explanation"),
    }
