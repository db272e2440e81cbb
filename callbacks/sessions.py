"""Analysts' pages: turn the filter and compare forms into a URL, so a link reproduces the view
(callbacks/pages/sessions.py renders the pages from it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from components import ids
from components.sessions_filters import SCORE_INPUTS, TYPE_PICKS
from components.sessions_page import SIGNAL_AXIS_TITLE
from services.storage.analyst_requests import url_params

# The filter form's fields, in the order its callback receives them.
FILTER_FIELDS = ("event", "from", "to", "q", "status", *SCORE_INPUTS, "below", *TYPE_PICKS)


def _listed(picked: object) -> str | None:
    """A multi-select's values as one URL parameter."""
    return ",".join(str(v) for v in picked) if isinstance(picked, list) else None


def filter_search(chosen: Mapping[str, Any], search: str) -> str:
    """The query string for the filters chosen; the current sort and order stay."""
    values = {k: _listed(v) if k in TYPE_PICKS else v for k, v in chosen.items()}
    kept = {k: v for k, v in url_params(search).items() if k in ("sort", "order")}
    params = kept | {
        k: str(v).strip() for k, v in values.items() if v is not None and str(v).strip()
    }
    if params.get("below") == "0.4" and "below_minutes" not in params:
        del params["below"]  # the default: a shorter link
    return f"?{urlencode(params)}" if params else ""


def compare_search(compare: object, align: str | None, search: str) -> str:
    """The query string for the sessions to overlay (the picker's list, or ids comma-separated)
    and their alignment; the bucket stays."""
    params = {k: v for k, v in url_params(search).items() if k == "bucket"}
    picked = compare if isinstance(compare, list) else [compare] if compare else []
    joined = ",".join(str(sid).strip() for sid in picked if str(sid).strip())
    if joined:
        params["compare"] = joined
    if align == "start":
        params["align"] = "start"
    return f"?{urlencode(params)}" if params else ""


def signal_axis_js(graph_id: str, title: str) -> str:
    """A clientside function: the signal axis shows its scale and title only while a signal is
    picked in the legend (a figure without one would show a scale of nothing)."""
    return f"""function (restyled) {{
        var gd = document.querySelector({json.dumps("#" + graph_id + " .js-plotly-plot")});
        if (!gd || !gd.data || !window.Plotly) {{ return window.dash_clientside.no_update; }}
        var shown = gd.data.some(function (t) {{ return t.yaxis === "y2" && t.visible === true; }});
        var axis = (gd.layout && gd.layout.yaxis2) || {{}};
        if (Boolean(axis.showticklabels) !== shown) {{
            window.Plotly.relayout(gd, {{
                "yaxis2.showticklabels": shown,
                "yaxis2.title.text": shown ? {json.dumps(title)} : ""
            }});
        }}
        return window.dash_clientside.no_update;
    }}"""


def register_sessions(app: dash.Dash) -> None:
    app.clientside_callback(
        signal_axis_js(ids.SESSION_GRAPH, SIGNAL_AXIS_TITLE),
        Output(ids.SESSION_AXIS_SINK, "data"),
        Input(ids.SESSION_GRAPH, "restyleData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.URL, "search"),
        Input(ids.SESSIONS_APPLY, "n_clicks"),
        State(ids.SESSIONS_EVENT, "value"),
        State(ids.SESSIONS_FROM, "value"),
        State(ids.SESSIONS_TO, "value"),
        State(ids.SESSIONS_QUERY, "value"),
        State(ids.SESSIONS_STATUS, "value"),
        *[State(control, "value") for control in SCORE_INPUTS.values()],
        State(ids.SESSIONS_BELOW, "value"),
        *[State(control, "value") for control in TYPE_PICKS.values()],
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def _apply_filters(clicks: Any, *values: Any) -> Any:
        if not clicks:
            raise PreventUpdate
        *chosen, search = values
        return filter_search(dict(zip(FILTER_FIELDS, chosen, strict=True)), search or "")

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.SESSION_COMPARE_APPLY, "n_clicks"),
        State(ids.SESSION_COMPARE, "value"),
        State(ids.SESSION_ALIGN, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def _apply_compare(clicks: Any, compare: Any, align: Any, search: Any) -> Any:
        if not clicks:
            raise PreventUpdate
        return compare_search(compare, align, search or "")
