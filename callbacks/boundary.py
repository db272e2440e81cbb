"""What every callback shares at its boundary with Dash: the dependencies the app factory hands
in, the signed-in principal, and the live page's config as the browser sends it back.

Callbacks are module-level functions taking these explicitly (tests call them directly); each
module's `register_*` only binds them to an app, reading Dash's raw inputs into typed values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dash.exceptions import PreventUpdate

from services.access.principal import Principal
from services.agent.desk import InterventionDesk
from services.live.stores import Stores
from services.storage.session_queries import SessionQueries

# The principal of the request being answered (the factory passes app.access.current).
SignedIn = Callable[[], Principal | None]


@dataclass(frozen=True, slots=True)
class WebDeps:
    """What callbacks and the pages they render read and act through: the runtime's one set of
    stores and its desk, the analysts' queries, a clock and the few settings pages show."""

    stores: Stores
    desk: InterventionDesk
    session_queries: SessionQueries
    clock: Callable[[], datetime]
    chart_points: int
    tick_seconds: float
    refresh_ms: int
    # The event's alert deliveries given up on, newest first (services/alerts/dispatcher.py).
    dead_letters: Callable[[str], list[dict[str, Any]]]


def principal(signed_in: SignedIn) -> Principal:
    """The request's principal. Access control refuses every Dash request without one, so its
    absence here means nothing may update."""
    who = signed_in()
    if who is None:
        raise PreventUpdate
    return who


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """The live page's (or a panel's) config store: only its session id is read back, and the
    guard checks it (services/access/guard.py)."""

    session_id: str

    @classmethod
    def parse(cls, raw: object) -> LiveConfig | None:
        """None when the page has no config (it is not a live page); an id that is not a string
        becomes one no session has, so it is refused like any other."""
        if not raw:
            return None
        found = raw.get("sessionId") if isinstance(raw, dict) else None
        return cls(found if isinstance(found, str) else "")
