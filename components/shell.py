"""The layout every page shares: URL, header, page container and the live socket's config."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from components import ids

# Handled by the server (app/sign_out.py), not by a page.
SIGN_OUT_PATH = "/sign-out"

OPEN_ACCESS_WARNING = (
    "Open access: this server has no AUTH_SECRET, so everyone who can reach it is a producer "
    "of every event. Fine for the demo; set AUTH_SECRET before anyone else can reach it."
)


def app_shell(
    open_access: bool, embedded: bool = False, producer: bool = True, signed_in: bool = False
) -> html.Div:
    """Every page's frame. `embedded`: for an embed sign-in, which opens nothing but panels:
    no navigation and no alerts, the same ids, so routing and the live socket work unchanged.
    `producer`: False for an analyst sign-in, whose navigation leads only to the past sessions
    (the one page of these app/access.py lets it open). `signed_in`: a sign-in that can be
    signed out of (not open access, not a panel's pass)."""
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
            *([] if embedded else _navigation(producer, signed_in)),
            html.Main(
                html.Div("Loading…", className="notice notice-info"),
                id=ids.PAGE,
                className="page embed-page" if embedded else "page",
            ),
            dcc.Store(id=ids.LIVE_CONFIG, data=None),
            dcc.Store(id=ids.SOCKET_SINK, data=None),
        ],
    )


def _navigation(producer: bool, signed_in: bool) -> list[Any]:
    """The header, and the CRITICAL alerts raised on any page."""
    producer_links = [("Events", "/"), ("Live", "/live")] if producer else []
    links = [*producer_links, ("Past sessions", "/sessions")]
    return [
        html.Header(
            className="nav",
            children=[
                dcc.Link("Engagement Conductor", href=links[0][1], className="brand"),
                html.Nav([dcc.Link(text, href=href, className="nav-link") for text, href in links]),
                *([_sign_out_form()] if signed_in else []),
            ],
        ),
        html.Div(id=ids.ALERTS, className="alerts", role="alert"),
        dcc.Interval(id=ids.ALERT_POLL, interval=5000),
        dcc.Store(id=ids.ALERTED, storage_type="session", data={}),
    ]


def _sign_out_form() -> html.Form:
    """A plain form POST: it works without the page's scripts, and the server checks its
    Origin like every state-changing request's."""
    return html.Form(
        html.Button("Sign out", type="submit", className="sign-out", id=ids.SIGN_OUT),
        method="POST",
        action=SIGN_OUT_PATH,
        className="sign-out-form",
    )
