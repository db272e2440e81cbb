"""Per-event anomaly-detection settings: which defaults an event overrides, validated, stored.

Only thresholds that a running detector can take on at once are tunable; window sizes and the
baseline's horizon shape the detector's memory and stay deployment-wide.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from services.anomaly_detector import DetectorSettings
from services.schema import event_settings

TUNABLE = (
    "sensitivity",
    "cooldown_seconds",
    "mass_exit_share",
    "mass_exit_critical_share",
    "mass_exit_min_users",
    "mass_exit_min_audience",
    "drop_ratio",
    "decline_ratio",
    "low_ratio",
    "low_seconds",
    "low_score",
    "low_score_seconds",
    "critical_ratio",
    "recover_ratio",
    "max_episode_seconds",
)
log = logging.getLogger(__name__)

_SHARES = {
    "mass_exit_share",
    "mass_exit_critical_share",
    "drop_ratio",
    "decline_ratio",
    "low_ratio",
    "low_score",
    "critical_ratio",
    "recover_ratio",
}
# Counts of people: zero would make a room of nobody a mass exit of nobody.
_AT_LEAST_ONE = {"mass_exit_min_users", "mass_exit_min_audience"}
_DEFAULTS = DetectorSettings()


class EventSettingsError(ValueError):
    """Overrides that name an unknown setting or a value it cannot take."""


def validate_overrides(raw: dict[str, Any]) -> dict[str, float | int]:
    """Checked, typed overrides; raises EventSettingsError naming each problem."""
    problems, clean = [], {}
    for name, value in raw.items():
        if name not in TUNABLE:
            problems.append(f"{name}: not a tunable setting (one of {', '.join(TUNABLE)})")
            continue
        default = getattr(_DEFAULTS, name)
        try:
            number = int(value) if isinstance(default, int) else float(value)
        except (TypeError, ValueError):
            problems.append(f"{name}: {value!r} is not a number")
            continue
        if isinstance(value, bool) or not math.isfinite(number) or number < 0:
            problems.append(f"{name}: must be a finite number >= 0")
        elif name in _AT_LEAST_ONE and number < 1:
            problems.append(f"{name}: a number of people, at least 1")
        elif name in _SHARES and number > 1:
            problems.append(f"{name}: a share of the room or of its baseline, from 0 to 1")
        elif name == "sensitivity" and not 0.1 <= number <= 10:
            problems.append("sensitivity: from 0.1 (quietest) to 10")
        else:
            clean[name] = number
    if problems:
        raise EventSettingsError("; ".join(problems))
    return clean


def valid_stored_overrides(
    stored: dict[str, Any],
) -> dict[str, dict[str, float | int]]:
    """What the table holds, checked again: a row written by another version or by hand must
    not stop the collector. Events whose overrides fail keep the defaults, with a warning."""
    good = {}
    for event_id, overrides in stored.items():
        try:
            if not isinstance(overrides, dict):
                raise EventSettingsError("detector settings must be a JSON object")
            good[event_id] = validate_overrides(overrides)
        except EventSettingsError as exc:
            log.warning("ignoring detector settings of event %r: %s", event_id, exc)
    return good


def effective(base: DetectorSettings, overrides: dict[str, float | int]) -> DetectorSettings:
    return dataclasses.replace(base, **overrides)


class EventSettingsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all_overrides(self) -> dict[str, dict[str, float | int]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(event_settings.c.event_id, event_settings.c.detector))
            return {row.event_id: row.detector for row in rows}

    def overrides(self, event_id: str) -> dict[str, float | int]:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(event_settings.c.detector).where(event_settings.c.event_id == event_id)
            ).scalar()
        return dict(found) if found else {}

    def update(
        self, event_id: str, changes: dict[str, Any], reset: bool = False
    ) -> dict[str, float | int]:
        """Merge validated `changes` into the event's overrides (or start over); returns them."""
        merged = {} if reset else self.overrides(event_id)
        merged.update(validate_overrides(changes))
        insert = (
            postgresql.insert(event_settings)
            if self.engine.dialect.name == "postgresql"
            else sqlite.insert(event_settings)
        )
        row = {"event_id": event_id, "detector": merged, "updated_at": datetime.now(UTC)}
        stmt = insert.values(**row).on_conflict_do_update(
            index_elements=["event_id"],
            set_={"detector": insert.excluded.detector, "updated_at": insert.excluded.updated_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return merged
