"""Alert items from what the collector and the desk produce: an anomaly episode's row, an
intervention record. Pure: the caller passes the titles and the public address it knows."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from services.alerts.messages import AlertItem
from services.storage.alert_settings import AlertKind
from services.storage.interventions import InterventionRecord


def _words(name: str) -> str:
    return name.replace("_", " ").lower()


def _where(session_id: str, title: str | None) -> str:
    return f"{title} ({session_id})" if title else session_id


def _link(public_url: str | None, session_id: str) -> str | None:
    if public_url is None:
        return None
    return f"{public_url.rstrip('/')}/live/{quote(session_id, safe='')}"


def anomaly_item(
    row: dict[str, Any],
    kind: AlertKind,
    title: str | None,
    event_title: str | None,
    public_url: str | None,
) -> AlertItem:
    """An episode opened (ANOMALY_OPENED) or at CRITICAL (ANOMALY_CRITICAL)."""
    step = "opened" if kind is AlertKind.ANOMALY_OPENED else "critical"
    severity = str(row["severity"])
    verb = "became CRITICAL" if step == "critical" else "began"
    return AlertItem(
        key=f"anomaly:{row['episode_id']}:{step}",
        kind=kind,
        event_id=str(row["event_id"]),
        session_id=str(row["session_id"]),
        at=row["time"].isoformat(),
        headline=f"{severity} {_words(str(row['type']))} {verb} in "
        f"{_where(row['session_id'], title)}",
        detail=f"{row['explanation']} Engagement {row['current_engagement']:.2f}, "
        f"expected {row['expected_engagement']:.2f}.",
        severity=severity,
        link=_link(public_url, row["session_id"]),
        event_title=event_title,
    )


def suggestion_item(
    record: InterventionRecord, title: str | None, event_title: str | None, public_url: str | None
) -> AlertItem:
    expires = f" It expires at {record.expires_at:%H:%M:%S} UTC." if record.expires_at else ""
    return AlertItem(
        key=f"suggestion:{record.intervention_id}",
        kind=AlertKind.SUGGESTION_WAITING,
        event_id=str(record.event_id),
        session_id=record.session_id,
        at=record.time.isoformat(),
        headline=f"A {_words(record.type)} waits for approval in "
        f"{_where(record.session_id, title)}",
        detail=f"{record.preview or record.type}.{expires}",
        link=_link(public_url, record.session_id),
        event_title=event_title,
    )


def outcome_item(
    record: InterventionRecord, title: str | None, event_title: str | None, public_url: str | None
) -> AlertItem:
    outcome = record.outcome or {}
    worked = "worked" if outcome.get("success") else "did not work"
    delta = outcome.get("delta")
    change = f" (engagement {delta:+.2f})" if isinstance(delta, int | float) else ""
    at = record.measured_at or record.time
    return AlertItem(
        key=f"outcome:{record.intervention_id}",
        kind=AlertKind.OUTCOME_MEASURED,
        event_id=str(record.event_id),
        session_id=record.session_id,
        at=at.isoformat(),
        headline=f"A {_words(record.type)} {worked}{change} in {_where(record.session_id, title)}",
        detail=record.preview or record.type,
        link=_link(public_url, record.session_id),
        event_title=event_title,
    )
