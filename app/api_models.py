"""The JSON API's bodies and answers as models: the write routes validate requests with them, and
`/api/openapi.json` is generated from them (app/openapi.py), so the description cannot drift from
what the code accepts and returns. The read routes' queries are validated by their own models
(services/storage/analyst_requests.py), which the description also uses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.agent.report import PerformanceRow
from services.core.push_objects import Episode, Intervention
from services.core.vocabulary import AgentMode, InterventionStatus, InterventionType
from services.storage.agent_settings import AgentSettings
from services.storage.alert_settings import AlertKind

_STRICT = ConfigDict(extra="forbid", frozen=True)


# -- requests ---------------------------------------------------------------------------------


class DismissBody(BaseModel):
    model_config = _STRICT
    reason: str = Field("", max_length=300, description="why, for the intervention log")


class LaunchBody(BaseModel):
    model_config = _STRICT
    type: InterventionType
    content: dict[str, Any] | None = Field(
        None,
        description="the type-specific payload (design §3: a poll's `poll`, a chat prompt's "
        "`message`, …), checked like generated content; the template's when absent",
    )


class AgentModeBody(BaseModel):
    model_config = _STRICT
    mode: AgentMode | None = Field(description="the session's own mode; null: the event's")


class AgentSettingsBody(BaseModel):
    """Any of the event's agent settings; those left out keep their values."""

    model_config = _STRICT
    mode: AgentMode | None = None
    approve_threshold: float | None = None
    min_confidence: float | None = None
    allowed_types: list[InterventionType] | None = None
    hourly_cap: int | None = None
    suggestion_ttl_seconds: float | None = None
    written_content: bool | None = None
    token_budget: int | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class DetectorSettingsBody(BaseModel):
    model_config = _STRICT
    set: dict[str, float] = Field(
        default_factory=dict, description="thresholds to override, by name (docs/detection.md)"
    )
    reset: bool = Field(False, description="drop the event's overrides first")


class WebhookBody(BaseModel):
    model_config = _STRICT
    url: str
    secret: str | None = Field(
        None,
        description="signs each body (HMAC-SHA256, at least 16 characters); leave it out to keep "
        "the one stored for this URL. Never shown back",
    )
    slack: bool = False


class AlertSettingsBody(BaseModel):
    """Any of the event's alert settings; those left out keep their values."""

    model_config = _STRICT
    emails: list[str] | None = None
    webhooks: list[WebhookBody] | None = None
    kinds: list[AlertKind] | None = None
    min_severity: Literal["WARNING", "CRITICAL"] | None = None

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_unset=True)
        if "webhooks" in data:
            data["webhooks"] = [
                {k: v for k, v in hook.items() if not (k == "secret" and v is None)}
                for hook in data["webhooks"]
            ]
        return data


# -- answers ----------------------------------------------------------------------------------


class ErrorAnswer(BaseModel):
    error: str


class SessionItem(BaseModel):
    session_id: str
    event_id: str | None
    title: str | None
    event_title: str | None
    status: Literal["live", "ended"]
    first_seen: str
    last_seen: str
    ended_at: str | None
    duration_seconds: float
    last_score: float | None
    present_users: int | None


class SessionFiguresItem(SessionItem):
    avg_score: float | None
    min_score: float | None
    ticks: int
    minutes_below: float
    peak_audience: int | None
    anomalies: int
    interventions: int
    success_rate: float | None


class SessionsPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[SessionFiguresItem]


class SeriesPoint(BaseModel):
    time: str
    score: float | None
    chat_msgs_per_min: float | None
    poll_participation: float | None
    active_users: float | None
    reactions_per_min: float | None
    user_leave_rate: float | None
    ticks: int


class SeriesAnswer(BaseModel):
    session_id: str
    bucket: str
    points: list[SeriesPoint]


class AnomaliesAnswer(BaseModel):
    session_id: str
    items: list[Episode]


class InterventionsAnswer(BaseModel):
    session_id: str
    status: InterventionStatus | None = None
    items: list[Intervention]


class AgentModeAnswer(BaseModel):
    session_id: str
    mode: AgentMode = Field(description="the mode in force")
    overridden: bool = Field(description="whether the session has a mode of its own")


class AgentSettingsAnswer(BaseModel):
    event_id: str
    settings: AgentSettings
    warnings: list[str]


class DetectorSettingsAnswer(BaseModel):
    event_id: str
    overrides: dict[str, float]
    settings: dict[str, float]


class WebhookShown(BaseModel):
    url: str
    slack: bool
    secret_set: bool


class DeadLetter(BaseModel):
    at: str
    channel: Literal["email", "webhook"]
    to: str
    subject: str
    attempts: int
    reason: str


class AlertSettingsAnswer(BaseModel):
    event_id: str
    emails: list[str]
    webhooks: list[WebhookShown]
    kinds: list[AlertKind]
    min_severity: Literal["WARNING", "CRITICAL"]
    dead_letters: list[DeadLetter] = Field(description="deliveries given up on, newest first")


class PerformanceAnswer(BaseModel):
    event_id: str
    items: list[PerformanceRow]
