"""Per-event anomaly-detection settings: which defaults an event overrides, validated, stored.

Only thresholds that a running detector can take on at once are tunable; window sizes and the
baseline's horizon shape the detector's memory and stay deployment-wide.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from services.detection.detector import DetectorSettings
from services.storage.schema import event_settings

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
# At 0, any `mass_exit_min_users` people leaving a room of any size would be a mass exit.
_ABOVE_ZERO = {"mass_exit_share", "mass_exit_critical_share"}
# Pairs (lower, higher, strictly) whose order the settings in force must keep, and why. An
# activity episode opens at or below a fall ratio and recovers at `recover_ratio` or above:
# were recovery not above every opening level (and the critical one), an episode could
# "recover" at the very level that opened it.
_ORDERED = (
    (
        "mass_exit_share",
        "mass_exit_critical_share",
        False,
        "a critical mass exit must first be one",
    ),
    ("drop_ratio", "recover_ratio", True, "a level that opens an episode would close it"),
    ("decline_ratio", "recover_ratio", True, "a level that opens an episode would close it"),
    ("low_ratio", "recover_ratio", True, "a level that opens an episode would close it"),
    ("critical_ratio", "recover_ratio", True, "a level would be critical and recovered at once"),
)
_DEFAULTS = DetectorSettings()


@dataclasses.dataclass(frozen=True, slots=True)
class SettingProblem:
    """Why one setting was refused; `other` is the setting it contradicts, if any."""

    setting: str
    text: str  # names `other` as "{other}"
    other: str | None = None

    def describe(self, name_of: Callable[[str], str] = str) -> str:
        """The problem for people, with settings named by `name_of` (a form uses its labels)."""
        text = (
            self.text if self.other is None else self.text.replace("{other}", name_of(self.other))
        )
        return f"{name_of(self.setting)}: {text}"


class EventSettingsError(ValueError):
    """Overrides that name an unknown setting or a value it cannot take."""

    def __init__(self, problems: list[SettingProblem]) -> None:
        super().__init__("; ".join(problem.describe() for problem in problems))
        self.problems = problems


def _typed(name: str, value: Any) -> float | int | str:
    """The value as its setting's type, or the reason it is not one (a str)."""
    if isinstance(value, bool):
        return "must be a finite number >= 0"
    text = value.strip() if isinstance(value, str) else value
    try:
        number = float(text)
    except (TypeError, ValueError):
        return f"{value!r} is not a number"
    if not math.isfinite(number) or number < 0:
        return "must be a finite number >= 0"
    if not isinstance(getattr(_DEFAULTS, name), int):
        return number
    # Truncating 2.5 people to 2 would save a value nobody typed.
    if isinstance(text, str):
        try:
            return int(text)
        except ValueError:
            return f"a whole number is required, got {value!r}"
    return int(number) if number.is_integer() else f"a whole number is required, got {value!r}"


def _range_problem(name: str, number: float) -> str | None:
    if name in _AT_LEAST_ONE and number < 1:
        return "a number of people, at least 1"
    if name in _SHARES and number > 1:
        return "a share of the room or of its baseline, from 0 to 1"
    if name in _ABOVE_ZERO and number == 0:
        return "a share of the room above 0 (at 0, any few people leaving would be one)"
    if name == "sensitivity" and not 0.1 <= number <= 10:
        return "from 0.1 (quietest) to 10"
    return None


def _order_problems(clean: dict[str, float | int]) -> list[SettingProblem]:
    """Contradictions in the settings in force (the defaults with `clean` over them), each
    charged to the setting that was changed (the higher one when both were), and only the
    tightest bound per setting, so the message says what value would do."""
    tightest: dict[str, tuple[float, SettingProblem]] = {}
    for lower, higher, strict, why in _ORDERED:
        low = clean.get(lower, getattr(_DEFAULTS, lower))
        high = clean.get(higher, getattr(_DEFAULTS, higher))
        if high > low or (not strict and high == low):
            continue
        if higher in clean:
            word = "above" if strict else "at least"
            problem = SettingProblem(higher, f"must be {word} {{other}} ({low:g}): {why}", lower)
            bound = -low  # a higher setting is bound by its largest lower one
        else:
            word = "below" if strict else "at most"
            problem = SettingProblem(lower, f"must be {word} {{other}} ({high:g}): {why}", higher)
            bound = high
        charged = problem.setting
        if charged not in tightest or bound < tightest[charged][0]:
            tightest[charged] = (bound, problem)
    return [problem for _, problem in tightest.values()]


def validate_overrides(raw: dict[str, Any]) -> dict[str, float | int]:
    """Checked, typed overrides that agree with each other and with the defaults they leave in
    force; raises EventSettingsError naming each problem."""
    problems, clean = [], {}
    for name, value in raw.items():
        if name not in TUNABLE:
            text = f"not a tunable setting (one of {', '.join(TUNABLE)})"
            problems.append(SettingProblem(name, text))
            continue
        typed = _typed(name, value)
        if isinstance(typed, str):
            problems.append(SettingProblem(name, typed))
        elif (why := _range_problem(name, typed)) is not None:
            problems.append(SettingProblem(name, why))
        else:
            clean[name] = typed
    if not problems:
        # Judged only on values that passed alone: an order is meaningless against a typo.
        problems = _order_problems(clean)
    if problems:
        raise EventSettingsError(problems)
    return clean


def overrides_from_form(values: dict[str, Any]) -> dict[str, float | int]:
    """What a form holding every tunable setting overrides: a blank field keeps the default,
    the rest are validated together, and only values that differ from the defaults are kept."""
    filled = {
        name: value
        for name, value in values.items()
        if value is not None and not (isinstance(value, str) and not value.strip())
    }
    return {
        name: value
        for name, value in validate_overrides(filled).items()
        if value != getattr(_DEFAULTS, name)
    }


def valid_stored_overrides(
    stored: dict[str, Any],
) -> dict[str, dict[str, float | int]]:
    """What the table holds, checked again: a row written by another version or by hand must
    not stop the collector. Events whose overrides fail keep the defaults, with a warning."""
    good = {}
    for event_id, overrides in stored.items():
        if not isinstance(overrides, dict):
            log.warning("ignoring detector settings of event %r: not a JSON object", event_id)
            continue
        try:
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
        # Validated as a whole: a change must also agree with the overrides it joins.
        merged = validate_overrides(({} if reset else self.overrides(event_id)) | changes)
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
