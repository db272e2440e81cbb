"""URL -> page, as the signed-in principal may see it; and the event overview (`/`)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from dash import html
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import WebDeps
from callbacks.pages.embed import render_panel
from callbacks.pages.live import PRODUCERS_ONLY, live_view, pickers_only
from callbacks.pages.sessions import render_sessions
from components.embed_panels import EMBED_PREFIX, panel_problem
from components.home_page import error_page, home_body, home_page, not_found_page
from components.live_page import LIVE_PATH, notice
from components.sessions_page import SESSIONS_PATH
from services.access.principal import Principal
from services.access.tokens import Role
from services.access.visibility import visible_events, visible_sessions
from services.storage.overview import SessionGlance

log = logging.getLogger(__name__)

PANELS_ONLY = "An embed sign-in opens only the panels it was given."
DATABASE_DOWN = (
    "The database cannot be reached right now, so this page cannot be shown. "
    "Reload in a moment; the server keeps retrying."
)


def render_path(
    deps: WebDeps, who: Principal, pathname: str, search: str = ""
) -> tuple[html.Div, dict[str, Any] | None]:
    """The page for `pathname` as `who` may see it and, on a live session's page, the browser
    socket's config."""
    path = unquote(pathname)
    if pathname.startswith(EMBED_PREFIX):
        try:
            return render_panel(deps, who, pathname)
        except SQLAlchemyError:
            log.exception("rendering panel %s failed on the database", pathname)
            return panel_problem(DATABASE_DOWN), None
    if who.role is Role.EMBED:
        return notice(PANELS_ONLY, "error"), None
    if not who.is_producer and not path.startswith(SESSIONS_PATH):
        return notice(PRODUCERS_ONLY, "error"), None
    try:
        if path == SESSIONS_PATH or path.startswith(SESSIONS_PATH + "/"):
            return render_sessions(deps, who, path, search), None
        if path == "/":
            events = visible_events(deps.stores.metrics, who)
            return home_page(events, glances(deps, who), deps.refresh_ms), None
        if path in (LIVE_PATH, LIVE_PATH + "/"):
            return pickers_only(deps, who, None), None
        if path.startswith(LIVE_PATH + "/"):
            return live_view(deps, who, path[len(LIVE_PATH) + 1 :])
    except SQLAlchemyError:
        log.exception("rendering %s failed on the database", pathname)
        return error_page(DATABASE_DOWN), None
    return not_found_page(pathname), None


def glances(deps: WebDeps, who: Principal) -> list[SessionGlance]:
    """The sessions `who` may see, each with its trend, open anomalies and agent mode."""
    visible = visible_sessions(deps.stores.metrics, who)
    return deps.stores.overview.glance(visible, deps.clock())


def overview_body(deps: WebDeps, who: Principal) -> html.Div:
    """The overview's body, re-rendered on its timer."""
    return home_body(visible_events(deps.stores.metrics, who), glances(deps, who))
