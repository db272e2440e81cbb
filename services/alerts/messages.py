"""What an alert says and how it is signed: pure, no I/O.

An `AlertItem` is one step of one thing (an episode opened, an episode turned CRITICAL, a
suggestion waiting, an outcome measured), keyed so that it is sent once. A `Message` groups an
event's items of one minute for every recipient: a subject and text for e-mail, a JSON body
for webhooks, or Slack-compatible text."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any

from services.storage.alert_settings import AlertKind, AlertSettings

SIGNATURE_HEADER = "X-Engagement-Conductor-Signature"
# Retries after a failed delivery: then the delivery is dead-lettered.
BACKOFF_SECONDS = (5.0, 30.0, 120.0, 600.0)
SUBJECT_LIMIT = 150


@dataclass(frozen=True, slots=True)
class AlertItem:
    key: str  # once per key: "anomaly:<episode>:opened", "suggestion:<intervention>", …
    kind: AlertKind
    event_id: str
    session_id: str
    at: str  # ISO time of what happened
    headline: str  # one line: "CRITICAL sudden drop in Keynote (sess-1)"
    detail: str  # a sentence or two: the explanation, the suggestion, the outcome
    severity: str | None = None  # an anomaly's
    link: str | None = None  # the live page, when the server knows its public address
    event_title: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertItem:
        return cls(**{**data, "kind": AlertKind(data["kind"])})


def wanted(item: AlertItem, settings: AlertSettings) -> bool:
    """Whether the event's settings ask for this item (and name anyone to tell)."""
    if not settings.has_recipients or item.kind not in settings.kinds:
        return False
    if item.kind is AlertKind.ANOMALY_OPENED and settings.min_severity == "CRITICAL":
        return item.severity == "CRITICAL"
    return True


@dataclass(frozen=True, slots=True)
class Message:
    event_id: str
    subject: str
    text: str
    items: tuple[AlertItem, ...]

    def json_body(self, sent_at: str) -> bytes:
        body = {
            "event_id": self.event_id,
            "sent_at": sent_at,
            "alerts": [item.as_json() for item in self.items],
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def slack_body(self) -> bytes:
        return json.dumps({"text": self.text}, ensure_ascii=False).encode()


def compose(event_id: str, event_title: str | None, items: list[AlertItem]) -> Message:
    """One message for an event's items, most urgent first."""
    ordered = sorted(items, key=lambda item: (item.severity != "CRITICAL", item.at))
    name = event_title or event_id
    if len(ordered) == 1:
        subject = f"{name}: {ordered[0].headline}"
    else:
        critical = sum(1 for item in ordered if item.severity == "CRITICAL")
        lead = f", {critical} critical" if critical else ""
        subject = f"{name}: {len(ordered)} alerts{lead}"
    lines = []
    for item in ordered:
        lines.append(f"• {item.headline} ({item.at[11:19]} UTC)")
        lines.append(f"  {item.detail}")
        if item.link:
            lines.append(f"  {item.link}")
    text = "\n".join(lines)
    return Message(event_id, subject[:SUBJECT_LIMIT], text, tuple(ordered))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value receivers check: HMAC-SHA256 over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def retry_after(attempts: int) -> float | None:
    """Seconds to wait after the `attempts`-th failure; None when it is time to give up."""
    if attempts < 1 or attempts > len(BACKOFF_SECONDS):
        return None
    return BACKOFF_SECONDS[attempts - 1]
