"""What a principal may see among the stored sessions: its events, their sessions, and the
analysts' filter narrowed to them. Every page and export asks here rather than filtering on its
own."""

from __future__ import annotations

from typing import Any

from services.access.principal import Principal
from services.storage.analyst_requests import FILTER_KEYS, QueryError, SessionFilter, parse
from services.storage.metrics_store import EventSummary, MetricsStore, SessionRecord


def visible_events(metrics: MetricsStore, who: Principal) -> list[EventSummary]:
    """The events `who` may see, each with its count of live sessions."""
    return [item for item in metrics.list_events() if who.may_see(item.event_id)]


def visible_sessions(
    metrics: MetricsStore, who: Principal, event_id: str | None = None
) -> list[SessionRecord]:
    """The sessions `who` may see, of one event or of all of them."""
    found = metrics.list_sessions(event_id=event_id)
    return [record for record in found if who.may_see(record.event_id)]


def scoped_filter(who: Principal, params: dict[str, str]) -> SessionFilter:
    """The filter `who` may run: their events only; QueryError for bad input or another event."""
    raw: dict[str, Any] = {k: v for k, v in params.items() if k in FILTER_KEYS and v != ""}
    if who.events is not None:
        raw["events"] = tuple(sorted(who.events))
    flt = parse(SessionFilter, raw)
    if flt.event is not None and not who.may_see(flt.event):
        raise QueryError("event: your sign-in does not name that event")
    return flt
