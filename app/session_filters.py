"""The analysts' filters as a URL carries them, narrowed to what the signed-in principal may see;
shared by the pages (callbacks/sessions.py) and the exports (app/exports.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from app.access import Principal
from services.storage.analyst_requests import BUCKETS, MAX_POINTS, QueryError, SessionFilter, parse

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


def url_params(search: str) -> dict[str, str]:
    """The page's parameters from its query string (unknown keys dropped, the last one wins)."""
    return {
        k: v
        for k, v in parse_qsl(search.lstrip("?"))
        if k in (*FILTER_KEYS, "bucket", "compare", "align")
    }


def scoped_filter(who: Principal, params: dict[str, str]) -> SessionFilter:
    """The filter `who` may run: their events only; QueryError for bad input or another event."""
    raw: dict[str, Any] = {k: v for k, v in params.items() if k in FILTER_KEYS and v != ""}
    if who.events is not None:
        raw["events"] = tuple(sorted(who.events))
    flt = parse(SessionFilter, raw)
    if flt.event is not None and not who.may_see(flt.event):
        raise QueryError("event: your sign-in does not name that event")
    return flt


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
