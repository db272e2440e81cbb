"""The layout every page shares: URL, header, page container and the live socket's config."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from components import ids

OPEN_ACCESS_WARNING = (
    "Open access: this server has no AUTH_SECRET, so everyone who can reach it is a producer "
    "of every event. Fine for the demo; set AUTH_SECRET before anyone else can reach it."
)


def app_shell(open_access: bool, embedded: bool = False, producer: bool = True) -> html.Div:
    """Every page's frame. `embedded`: for an embed sign-in, which opens nothing but panels:
    no navigation and no alerts, the same ids, so routing and the live socket work unchanged.
    `producer`: False for an analyst sign-in, whose navigation leads only to the past sessions
    (the one page of these app/access.py lets it open)."""
    # One of the page's alerts, which embedded panels hide with the others (`.shell-embed
    # .alerts`, assets/style.css): a panel's frame is a few hundred pixels, none to spare.
    warning = (
        [html.Div(OPEN_ACCESS_WARNING, className="open-access-banner", role="alert")]
        if open_access
        else []
    )
    return html.Div(
        id=ids.SHELL,
        className="shell shell-embed" if embedded else "shell",
        children=[
            *warning,
            # Callbacks that change the pathname navigate without a reload; the routing
            # callback renders the new page.
            dcc.Location(id=ids.URL, refresh="callback-nav"),
            *([] if embedded else _navigation(producer)),
            html.Main(
                html.Div("Loading…", className="notice notice-info"),
                id=ids.PAGE,
                className="page embed-page" if embedded else "page",
            ),
            dcc.Store(id=ids.LIVE_CONFIG, data=None),
            dcc.Store(id=ids.SOCKET_SINK, data=None),
        ],
    )


def _navigation(producer: bool) -> list[Any]:
    """The header, and the CRITICAL alerts raised on any page."""
    producer_links = [("Events", "/"), ("Live", "/live")] if producer else []
    links = [*producer_links, ("Past sessions", "/sessions")]
    return [
        html.Header(
            className="nav",
            children=[
                dcc.Link("Engagement Conductor", href=links[0][1], className="brand"),
                html.Nav([dcc.Link(text, href=href, className="nav-link") for text, href in links]),
            ],
        ),
        html.Div(id=ids.ALERTS, className="alerts", role="alert"),
        dcc.Interval(id=ids.ALERT_POLL, interval=5000),
        dcc.Store(id=ids.ALERTED, storage_type="session", data={}),
    ]
