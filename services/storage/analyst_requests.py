"""What analysts and the JSON API may ask for: the past-sessions filter and a session's series,
validated from text parameters, so every caller (API, pages, exports) refuses the same bad input
with the same message; and the pages' parameters as their URLs carry them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.core.platform import valid_id
from services.core.vocabulary import AnomalyType, InterventionType
from services.storage.session_stats import THRESHOLDS, threshold_index

MAX_PAGE_SIZE = 200
MAX_POINTS = 5000
MAX_ITEMS = 500
MAX_SEARCH_LENGTH = 200

BUCKETS: dict[str, timedelta | None] = {
    "raw": None,
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
}
SORTABLE = (
    "first_seen",
    "last_seen",
    "session_id",
    "event_id",
    "last_score",
    "present_users",
    "avg_score",
    "min_score",
    "minutes_below",
)
# The filter's parameters in a page's URL (the exports take the same).
FILTER_KEYS = (
    "event",
    "from",
    "to",
    "q",
    "status",
    "avg_min",
    "avg_max",
    "lowest_min",
    "lowest_max",
    "below",
    "below_minutes",
    "anomaly",
    "intervention",
    "sort",
    "order",
    "page",
)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_Score = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)


class QueryError(ValueError):
    """Input a query cannot take, with a message meant for the person who sent it."""


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2026-11-26T10:00:00Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must be between the years 2000 and 2100")
    return value


def _listed(value: object) -> object:
    """`a,b` or repeated parameters, as a tuple; blanks dropped."""
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, list | tuple):
        return tuple(str(part).strip() for part in value if str(part).strip())
    return value


class SessionFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: tuple[str, ...] | None = None  # None: no restriction (callers pass the token's scope)
    event: str | None = None
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")
    q: str | None = Field(None, max_length=MAX_SEARCH_LENGTH)
    status: Literal["live", "ended"] | None = None
    # Scores: the average, the lowest, and the time spent below `below`.
    avg_min: float | None = _Score
    avg_max: float | None = _Score
    lowest_min: float | None = _Score
    lowest_max: float | None = _Score
    below: float = Field(0.4, ge=0.05, le=0.95, allow_inf_nan=False)
    below_minutes: float | None = Field(None, ge=0.0, le=1_000_000, allow_inf_nan=False)
    # Sessions with at least one anomaly / executed intervention of any of these types.
    anomaly: tuple[AnomalyType, ...] = Field((), max_length=len(AnomalyType))
    intervention: tuple[InterventionType, ...] = Field((), max_length=len(InterventionType))
    sort: Literal[SORTABLE] = "last_seen"  # type: ignore[valid-type]
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)

    @field_validator("event")
    @classmethod
    def _event_id(cls, value: str | None) -> str | None:
        if value is not None and not valid_id(value):
            raise ValueError("not a valid event id")
        return value

    @field_validator("q")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("holds control characters")
        return value

    @field_validator("start", "end")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    @field_validator("anomaly", "intervention", mode="before")
    @classmethod
    def _types(cls, value: object) -> object:
        return _listed(value)

    @field_validator("below")
    @classmethod
    def _on_a_step(cls, value: float) -> float:
        return THRESHOLDS[threshold_index(value)]

    @model_validator(mode="after")
    def _ordered(self) -> SessionFilter:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        for low, high, name in (
            (self.avg_min, self.avg_max, "avg"),
            (self.lowest_min, self.lowest_max, "lowest"),
        ):
            if low is not None and high is not None and low > high:
                raise ValueError(f"'{name}_min' must not be above '{name}_max'")
        return self

    @property
    def below_index(self) -> int:
        return threshold_index(self.below)


class SeriesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: Literal["raw", "1m", "5m", "1h"] = "1m"
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")

    @field_validator("start", "end")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    @model_validator(mode="after")
    def _ordered(self) -> SeriesRequest:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self


def parse(model: type[BaseModel], raw: dict[str, Any]) -> Any:
    """A validated request model, or QueryError naming each bad parameter."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "request"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise QueryError("; ".join(problems)) from None


def url_params(search: str) -> dict[str, str]:
    """The page's parameters from its query string (unknown keys dropped, the last one wins)."""
    return {
        k: v
        for k, v in parse_qsl(search.lstrip("?"))
        if k in (*FILTER_KEYS, "bucket", "compare", "align")
    }


def session_span(session: dict[str, Any]) -> dict[str, str]:
    """A series request's range for a whole session: from its start to an hour past its end
    (its last tick included, whatever the bucket)."""
    end = datetime.fromisoformat(session["ended_at"] or session["last_seen"])
    return {"from": session["first_seen"], "to": (end + timedelta(hours=1)).isoformat()}


def fitting_bucket(session: dict[str, Any]) -> str:
    """The finest bucket (from 1 min) that shows the whole session within the point limit."""
    span = session_span(session)
    seconds = (
        datetime.fromisoformat(span["to"]) - datetime.fromisoformat(span["from"])
    ).total_seconds()
    for name in ("1m", "5m"):
        step = BUCKETS[name]
        assert step is not None
        if seconds / step.total_seconds() <= MAX_POINTS:
            return name
    return "1h"
