"""Per-event alert settings: who hears about an event when nobody watches its pages (e-mail
addresses, webhooks with their signing secrets), and about what (the kinds of alert, the lowest
anomaly severity). Validated, stored in the database, read by every server."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from sqlalchemy.engine import Engine

from services.storage.agent_settings import upsert
from services.storage.schema import event_alerts

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 20
MAX_WEBHOOKS = 10
# Enough to catch a typo; whether it exists only the mail server knows.
_EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class AlertKind(StrEnum):
    ANOMALY_OPENED = "anomaly_opened"
    ANOMALY_CRITICAL = "anomaly_critical"  # opened as, or escalated to, CRITICAL
    SUGGESTION_WAITING = "suggestion_waiting"
    OUTCOME_MEASURED = "outcome_measured"


class AlertSettingsError(ValueError):
    """Alert settings that cannot be kept; one clause per problem, naming the field."""


class Webhook(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(max_length=2000)
    # Signs each body (HMAC-SHA256); never shown back, never sent, never logged.
    secret: SecretStr = Field(min_length=16, max_length=200)
    slack: bool = False  # a Slack-compatible {"text": …} body instead of the JSON alert list

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError("must be an http:// or https:// URL without spaces")
        return value


class AlertSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    emails: tuple[str, ...] = Field((), max_length=MAX_RECIPIENTS)
    webhooks: tuple[Webhook, ...] = Field((), max_length=MAX_WEBHOOKS)
    kinds: tuple[AlertKind, ...] = (AlertKind.ANOMALY_CRITICAL, AlertKind.SUGGESTION_WAITING)
    # anomaly_opened only for episodes at least this severe.
    min_severity: str = Field("WARNING", pattern="^(WARNING|CRITICAL)$")

    @field_validator("emails")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not _EMAIL.match(address):
                raise ValueError(f"{address[:80]!r} is not an e-mail address")
        return tuple(dict.fromkeys(value))

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, value: tuple[AlertKind, ...]) -> tuple[AlertKind, ...]:
        return tuple(dict.fromkeys(value))

    @property
    def has_recipients(self) -> bool:
        return bool(self.emails or self.webhooks)

    def stored(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["webhooks"] = [
            hook | {"secret": secret.get_secret_value()}
            for hook, secret in zip(
                data["webhooks"], (w.secret for w in self.webhooks), strict=True
            )
        ]
        return data

    def shown(self) -> dict[str, Any]:
        """For pages and the API: every secret replaced by whether it is set."""
        data = self.model_dump(mode="json")
        data["webhooks"] = [
            {"url": hook["url"], "slack": hook["slack"], "secret_set": True}
            for hook in data["webhooks"]
        ]
        return data

    def secret_for(self, url: str) -> str | None:
        return next((w.secret.get_secret_value() for w in self.webhooks if w.url == url), None)


# An event with no settings tells nobody (no recipients); its form starts from these kinds.
DEFAULTS = AlertSettings()


def validate_alert_settings(raw: Any) -> AlertSettings:
    try:
        return AlertSettings.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            # Never echo a value back: it may be a webhook's secret.
            problems.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
        raise AlertSettingsError("; ".join(problems)) from None


class AlertSettingsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def for_event(self, event_id: str | None) -> AlertSettings:
        """The event's alert settings; the defaults (nobody to tell) when it has none."""
        if event_id is None:
            return DEFAULTS
        query = sa.select(event_alerts.c.settings).where(event_alerts.c.event_id == event_id)
        with self.engine.connect() as conn:
            stored = conn.execute(query).scalar()
        if not stored:
            return DEFAULTS
        try:
            return validate_alert_settings(dict(stored))
        except AlertSettingsError as exc:
            log.warning("ignoring alert settings of event %r: %s", event_id, exc)
            return DEFAULTS

    def update(self, event_id: str, changes: dict[str, Any]) -> AlertSettings:
        """Merge `changes` into the event's settings. A webhook given without its secret keeps
        the one stored for its URL, so pages and clients never need to hold secrets."""
        current = self.for_event(event_id)
        merged = current.stored() | changes
        if "webhooks" in changes and isinstance(changes["webhooks"], list):
            merged["webhooks"] = [_with_kept_secret(hook, current) for hook in changes["webhooks"]]
        settings = validate_alert_settings(merged)
        row = {"event_id": event_id, "settings": settings.stored(), "updated_at": _now()}
        with self.engine.begin() as conn:
            conn.execute(upsert(self.engine, event_alerts, "event_id", row))
        return settings


def _with_kept_secret(hook: Any, current: AlertSettings) -> Any:
    if isinstance(hook, dict) and "secret" not in hook and isinstance(hook.get("url"), str):
        kept = current.secret_for(hook["url"])
        if kept is not None:
            return hook | {"secret": kept}
    return hook


def _now() -> datetime:
    return datetime.now(UTC)
