"""The past-sessions filter form: every control starts from the URL's parameters, so a link
reproduces the view (callbacks/sessions.py turns the form back into a URL)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dash import dcc, html

from components import ids
from services.core.vocabulary import AnomalyType, InterventionType
from services.storage.session_stats import THRESHOLDS

SESSIONS_PATH = "/sessions"
# URL parameter -> the control that edits it (a multi-select for the types).
SCORE_INPUTS: dict[str, str] = {
    "avg_min": ids.SESSIONS_AVG_MIN,
    "avg_max": ids.SESSIONS_AVG_MAX,
    "lowest_min": ids.SESSIONS_LOWEST_MIN,
    "lowest_max": ids.SESSIONS_LOWEST_MAX,
    "below_minutes": ids.SESSIONS_BELOW_MINUTES,
}
TYPE_PICKS: dict[str, str] = {
    "anomaly": ids.SESSIONS_ANOMALY,
    "intervention": ids.SESSIONS_INTERVENTION,
}


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _field(label: str, control: Any) -> html.Div:
    return html.Div(className="setting", children=[html.Label(label), control])


def _number(param: str, params: Mapping[str, str], placeholder: str) -> dcc.Input:
    # Text from the URL is shown as it came: the page explains what is wrong with it.
    return dcc.Input(
        id=SCORE_INPUTS[param],
        value=params.get(param, ""),
        type="text",
        inputMode="decimal",
        placeholder=placeholder,
    )


def _threshold(text: str) -> str:
    """The dropdown's value for the URL's `below` (0.40 and 0.4 are the same choice)."""
    try:
        wanted = float(text)
    except ValueError:
        return text
    return next((f"{t:g}" for t in THRESHOLDS if abs(t - wanted) < 1e-9), text)


def _types_field(
    label: str, control_id: str, types: Iterable[str], params: Mapping[str, str], key: str
) -> html.Div:
    """Pick any of a vocabulary's types (none picked: any or none)."""
    options = [{"label": _label(t), "value": t} for t in types]
    return _field(
        label,
        dcc.Dropdown(
            id=control_id,
            options=options,
            value=_listed(params, key),
            multi=True,
            placeholder="Any or none",
        ),
    )


def _listed(params: Mapping[str, str], key: str) -> list[str]:
    return [part for part in params.get(key, "").split(",") if part]


def _range(label: str, low: str, high: str, params: Mapping[str, str]) -> html.Div:
    return _field(
        label,
        html.Div(
            className="range-inputs",
            children=[
                _number(low, params, "from 0"),
                html.Span("to"),
                _number(high, params, "to 1"),
            ],
        ),
    )


def filter_form(params: Mapping[str, str], events: Sequence[str]) -> html.Div:
    below = _threshold(params.get("below", "0.4"))
    return html.Div(
        className="card filters",
        children=[
            html.Div(
                className="settings-grid",
                children=[
                    _field(
                        "Event",
                        dcc.Dropdown(
                            id=ids.SESSIONS_EVENT,
                            options=[{"label": e, "value": e} for e in events],
                            value=params.get("event") or None,
                            placeholder="All my events",
                        ),
                    ),
                    _field(
                        "From (UTC, e.g. 2026-11-20T09:00:00Z)",
                        dcc.Input(id=ids.SESSIONS_FROM, value=params.get("from", ""), type="text"),
                    ),
                    _field(
                        "To (UTC)",
                        dcc.Input(id=ids.SESSIONS_TO, value=params.get("to", ""), type="text"),
                    ),
                    _field(
                        "Session title or id contains",
                        dcc.Input(id=ids.SESSIONS_QUERY, value=params.get("q", ""), type="text"),
                    ),
                    _field(
                        "Status",
                        dcc.Dropdown(
                            id=ids.SESSIONS_STATUS,
                            options=[
                                {"label": "live", "value": "live"},
                                {"label": "ended", "value": "ended"},
                            ],
                            value=params.get("status") or None,
                            placeholder="Any",
                        ),
                    ),
                    _range("Average score between", "avg_min", "avg_max", params),
                    _range("Lowest score between", "lowest_min", "lowest_max", params),
                    _field(
                        "Minutes below a score",
                        html.Div(
                            className="range-inputs",
                            children=[
                                dcc.Dropdown(
                                    id=ids.SESSIONS_BELOW,
                                    options=[
                                        {"label": f"below {t:.2f}", "value": f"{t:g}"}
                                        for t in THRESHOLDS
                                    ],
                                    value=below,
                                    clearable=False,
                                ),
                                html.Span("at least"),
                                _number("below_minutes", params, "minutes"),
                            ],
                        ),
                    ),
                    _types_field(
                        "Had an anomaly of type",
                        ids.SESSIONS_ANOMALY,
                        AnomalyType,
                        params,
                        "anomaly",
                    ),
                    _types_field(
                        "Ran an intervention of type",
                        ids.SESSIONS_INTERVENTION,
                        InterventionType,
                        params,
                        "intervention",
                    ),
                ],
            ),
            html.P(
                "Score filters and sorting use figures settled two minutes after each tick; "
                "the table shows them up to the latest tick.",
                className="card-note",
            ),
            html.Button("Apply filters", id=ids.SESSIONS_APPLY, className="button button-primary"),
            dcc.Link("Clear", href=SESSIONS_PATH, className="clear-link"),
        ],
    )
