"""URL -> page (callbacks/pages/ assembles them), and the overview's refresh."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, html
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from callbacks.boundary import SignedIn, WebDeps, principal
from callbacks.pages.router import DATABASE_DOWN, overview_body, render_path
from components import ids
from components.embed_panels import EMBED_PREFIX
from components.live_page import notice
from services.access.principal import Principal

log = logging.getLogger(__name__)


def route(
    deps: WebDeps, who: Principal, pathname: str, search: str
) -> tuple[html.Div, dict[str, Any] | None, str]:
    """The page, the live socket's config (None closes the socket) and the shell's class."""
    page, config = render_path(deps, who, pathname, search)
    # A producer previewing a panel sees it as the platform's page will.
    return page, config, "shell shell-embed" if pathname.startswith(EMBED_PREFIX) else "shell"


def refresh_home(deps: WebDeps, who: Principal) -> html.Div:
    if not who.is_producer:
        raise PreventUpdate
    try:
        return overview_body(deps, who)
    except SQLAlchemyError:
        log.warning("home refresh failed on the database", exc_info=True)
        return notice(DATABASE_DOWN, "error")


def register_routing(app: dash.Dash, deps: WebDeps, signed_in: SignedIn) -> None:
    @app.callback(
        Output(ids.PAGE, "children"),
        Output(ids.LIVE_CONFIG, "data"),
        Output(ids.SHELL, "className"),
        Input(ids.URL, "pathname"),
        Input(ids.URL, "search"),
    )
    def _route(pathname: str | None, search: str | None) -> Any:
        return route(deps, principal(signed_in), pathname or "/", search or "")

    @app.callback(
        Output(ids.HOME_BODY, "children"),
        Input(ids.HOME_REFRESH, "n_intervals"),
        prevent_initial_call=True,
    )
    def _refresh_home(_n: int | None) -> Any:
        return refresh_home(deps, principal(signed_in))
