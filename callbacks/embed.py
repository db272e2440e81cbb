"""Iframe panels' refresh: the panels rendered from the database (intervention log, event tile)
re-render on their timer and, for the log, on each intervention the socket pushes."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import SignedIn, WebDeps, principal
from callbacks.pages.embed import panel_body
from components import ids
from components.embed_panels import panel_of_url
from services.access.principal import Principal
from services.access.tokens import EmbedResource

log = logging.getLogger(__name__)


def refresh_panel(deps: WebDeps, who: Principal, panel: EmbedResource | None) -> Any:
    """The panel's new body; nothing changes for a panel `who` may not see, or one the socket
    feeds."""
    if panel is None:
        raise PreventUpdate
    try:
        body = panel_body(deps, who, panel)
    except SQLAlchemyError:
        # What is on screen stays; the next refresh tries again.
        log.warning("refreshing panel %s failed on the database", panel, exc_info=True)
        raise PreventUpdate from None
    if body is None:
        raise PreventUpdate
    return body


def register_embed(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    @app.callback(
        Output(ids.EMBED_BODY, "children"),
        Input(ids.EMBED_REFRESH, "n_intervals"),
        Input(ids.EMBED_SIGNAL, "data"),
        State(ids.URL, "pathname"),
        prevent_initial_call=True,
    )
    def _refresh_panel(_n: Any, _signal: Any, pathname: Any) -> Any:
        path = pathname if isinstance(pathname, str) else ""
        return refresh_panel(deps, principal(signed_in), panel_of_url(path))
