"""Per-event agent settings (mode, thresholds, allowed types, hourly cap, suggestion lifetime) and
per-session mode overrides: validated, stored in the database, read by every server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from services.core.vocabulary import INTERVENTION_TYPES, AgentMode, InterventionType
from services.storage.schema import agent_settings, session_agent_modes

log = logging.getLogger(__name__)

# The seed system's ceiling (design §6): no event gets more than this per hour, whatever its cap.
MAX_HOURLY_CAP = 100


class AgentSettingsError(ValueError):
    """Settings that name an unknown field or a value it cannot take; one clause per problem."""


class AgentSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: AgentMode = AgentMode.MANUAL
    # SEMI_AUTO executes without asking at or above this confidence.
    approve_threshold: float = Field(0.75, ge=0.0, le=1.0)
    # Below this confidence the agent suggests nothing (and says so in the log).
    min_confidence: float = Field(0.50, ge=0.0, le=1.0)
    allowed_types: tuple[InterventionType, ...] = INTERVENTION_TYPES
    # Executed interventions per event per hour.
    hourly_cap: int = Field(3, ge=0, le=MAX_HOURLY_CAP)
    # A suggestion nobody approved or dismissed by then expires.
    suggestion_ttl_seconds: float = Field(120.0, ge=10.0, le=3600.0)
    # With a language model configured: may it write this event's interventions (reading the
    # chat), and how many tokens may it spend (None: the server's CONTENT_TOKEN_BUDGET)?
    written_content: bool = True
    token_budget: int | None = Field(None, ge=0, le=10**10)

    @field_validator("allowed_types")
    @classmethod
    def _distinct(cls, value: tuple[InterventionType, ...]) -> tuple[InterventionType, ...]:
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> AgentSettings:
        if self.min_confidence > self.approve_threshold:
            raise ValueError("min_confidence must not be above approve_threshold")
        return self

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def warnings(self) -> list[str]:
        """Valid choices whose effect is easy to miss, said plainly when they are saved. No
        allowed type is valid: it is the one way to stop manual launches as well."""
        if not self.allowed_types:
            return [
                "no intervention type is allowed: the agent will suggest nothing and manual "
                "launches are refused (to pause only the agent, set the mode to OFF)"
            ]
        return []


DEFAULTS = AgentSettings()


def validate_agent_settings(raw: dict[str, Any]) -> AgentSettings:
    try:
        return AgentSettings.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{where}: {error['msg']}")
        raise AgentSettingsError("; ".join(problems)) from None


def parse_mode(value: object) -> AgentMode:
    try:
        return AgentMode(str(value).upper())
    except ValueError:
        names = ", ".join(mode.value for mode in AgentMode)
        raise AgentSettingsError(f"mode: {value!r} is not one of {names}") from None


def upsert(engine: Engine, table: sa.Table, key: str, row: dict[str, Any]) -> sa.Insert:
    insert = (
        postgresql.insert(table) if engine.dialect.name == "postgresql" else sqlite.insert(table)
    )
    stmt = insert.values(**row)
    updates = {name: stmt.excluded[name] for name in row if name != key}
    return stmt.on_conflict_do_update(index_elements=[key], set_=updates)


class AgentSettingsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def for_event(self, event_id: str | None, conn: Connection | None = None) -> AgentSettings:
        """The event's settings; the defaults when it has none or its row no longer validates."""
        if event_id is None:
            return DEFAULTS
        query = sa.select(agent_settings.c.settings).where(agent_settings.c.event_id == event_id)
        if conn is None:
            with self.engine.connect() as own:
                stored = own.execute(query).scalar()
        else:
            stored = conn.execute(query).scalar()
        if not stored:
            return DEFAULTS
        try:
            return validate_agent_settings(dict(stored))
        except (AgentSettingsError, TypeError, ValueError) as exc:
            # Written by another version or by hand: the collector must keep running.
            log.warning("ignoring agent settings of event %r: %s", event_id, exc)
            return DEFAULTS

    def update(self, event_id: str, changes: dict[str, Any]) -> AgentSettings:
        """Merge `changes` into the event's settings after validating the result; returns it."""
        merged = self.for_event(event_id).stored() | changes
        settings = validate_agent_settings(merged)
        row = {"event_id": event_id, "settings": settings.stored(), "updated_at": _now()}
        with self.engine.begin() as conn:
            conn.execute(upsert(self.engine, agent_settings, "event_id", row))
        return settings

    def session_mode(self, session_id: str, conn: Connection | None = None) -> AgentMode | None:
        query = sa.select(session_agent_modes.c.mode).where(
            session_agent_modes.c.session_id == session_id
        )
        if conn is None:
            with self.engine.connect() as own:
                found = own.execute(query).scalar()
        else:
            found = conn.execute(query).scalar()
        try:
            return AgentMode(found) if found else None
        except ValueError:
            return None

    def set_session_mode(self, session_id: str, mode: AgentMode | None) -> None:
        """Override the event's mode for one session; None goes back to the event's."""
        with self.engine.begin() as conn:
            if mode is None:
                conn.execute(
                    sa.delete(session_agent_modes).where(
                        session_agent_modes.c.session_id == session_id
                    )
                )
                return
            row = {"session_id": session_id, "mode": mode.value, "updated_at": _now()}
            conn.execute(upsert(self.engine, session_agent_modes, "session_id", row))

    def effective(
        self, session_id: str, event_id: str | None, conn: Connection | None = None
    ) -> tuple[AgentSettings, AgentMode, bool]:
        """The event's settings, the mode in force, and whether the session overrides it."""
        settings = self.for_event(event_id, conn)
        override = self.session_mode(session_id, conn)
        return settings, override or settings.mode, override is not None


def _now() -> datetime:
    return datetime.now(UTC)
