"""Analysts' pages: `/sessions` (filters kept in the URL, a sortable, paginated table) and
`/sessions/<id>` (the whole session at a chosen bucket, with anomaly bands and interventions).
Pure layout: callbacks/sessions.py queries and calls these."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from dash import dcc, html

from components import ids
from components.anomalies import SEVERITY_COLOURS
from components.home_page import titled
from components.sessions_filters import SESSIONS_PATH, filter_form
from services.storage.analyst_requests import FILTER_KEYS, SessionFilter

EXPORT_PATH = "/export/sessions"
BUCKET_LABELS = {"raw": "5 s", "1m": "1 min", "5m": "5 min", "1h": "1 hour"}
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    # (label, field, sort key or None when the column cannot be sorted server-side)
    ("Session", "session_id", "session_id"),
    ("Event", "event_id", "event_id"),
    ("Status", "status", None),
    ("Started", "first_seen", "first_seen"),
    ("Last seen", "last_seen", "last_seen"),
    ("Duration", "duration_seconds", None),
    ("Avg score", "avg_score", "avg_score"),
    ("Lowest score", "min_score", "min_score"),
    # The label names the threshold the filter's "below" chose: see _label.
    ("Minutes below", "minutes_below", "minutes_below"),
    ("Peak audience", "peak_audience", None),
    ("Anomalies", "anomalies", None),
    ("Interventions", "interventions", None),
    ("Success", "success_rate", None),
)
NO_SESSIONS = "No sessions match these filters."
DEFAULT_BELOW: float = SessionFilter.model_fields["below"].default


def session_href(session_id: str) -> str:
    return f"{SESSIONS_PATH}/{quote(session_id, safe='')}"


def _href(path: str, params: Mapping[str, str], **changes: str | int) -> str:
    merged = {k: str(v) for k, v in {**params, **changes}.items() if v not in ("", None)}
    return f"{path}?{urlencode(merged)}" if merged else path


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _cell(field: str, item: Mapping[str, Any]) -> Any:
    value = item.get(field)
    if field == "session_id":
        return dcc.Link(
            titled(item.get("title"), str(value)),
            href=session_href(str(value)),
            className="titled-link",
        )
    if field == "event_id" and value:
        return html.Span(titled(item.get("event_title"), str(value)), className="titled-link")
    if field in ("first_seen", "last_seen"):
        return str(value or "—")[:19].replace("T", " ")
    if field == "duration_seconds":
        return _duration(float(value or 0))
    if field in ("avg_score", "min_score"):
        return _number(value)
    if field == "success_rate":
        return "—" if value is None else f"{value:.0%}"
    return "—" if value is None else str(value)


def sessions_table(params: Mapping[str, str], result: Mapping[str, Any]) -> html.Div:
    items = result["items"]
    if not items and result.get("total"):
        return html.Div(
            [
                f"This page is past the end: {result['total']} sessions match. ",
                dcc.Link("Go to the first page", href=_href(SESSIONS_PATH, params, page=1)),
            ],
            className="notice notice-empty",
        )
    if not items:
        return html.Div(NO_SESSIONS, className="notice notice-empty")
    sort, order = params.get("sort", "last_seen"), params.get("order", "desc")
    header = []
    below = params.get("below") or f"{DEFAULT_BELOW:.2f}"
    for label, _column, key in COLUMNS:
        if key == "minutes_below":
            label = f"Minutes below {below}"
        if key is None:
            header.append(html.Th(label))
            continue
        flip = "asc" if (sort == key and order == "desc") else "desc"
        arrow = (" ▼" if order == "desc" else " ▲") if sort == key else ""
        header.append(
            html.Th(
                dcc.Link(
                    label + arrow, href=_href(SESSIONS_PATH, params, sort=key, order=flip, page=1)
                )
            )
        )
    rows = [
        html.Tr([html.Td(_cell(field, item)) for _, field, _ in COLUMNS], className="session-row")
        for item in items
    ]
    total, page, size = result["total"], result["page"], result["page_size"]
    pages = max(1, math.ceil(total / size))
    nav = [html.Span(f"{total} sessions · page {page} of {pages}", className="card-note")]
    if page > 1:
        nav.append(dcc.Link("← previous", href=_href(SESSIONS_PATH, params, page=page - 1)))
    if page < pages:
        nav.append(dcc.Link("next →", href=_href(SESSIONS_PATH, params, page=page + 1)))
    # The exports take the table's filters and nothing else (they refuse what they do not know).
    filters = {k: v for k, v in params.items() if k in FILTER_KEYS}
    exports = html.Span(
        [
            "Export this page: ",
            html.A("CSV", href=_href(EXPORT_PATH + ".csv", filters)),
            " · ",
            html.A("JSON", href=_href(EXPORT_PATH + ".json", filters)),
        ],
        className="card-note",
    )
    return html.Div(
        id=ids.SESSIONS_TABLE,
        children=[
            html.Table(
                className="log-table", children=[html.Thead(html.Tr(header)), html.Tbody(rows)]
            ),
            html.Div(className="pager", children=[*nav, exports]),
        ],
    )


def sessions_page(
    params: Mapping[str, str],
    events: Sequence[str],
    result: Mapping[str, Any] | None,
    problem: str | None,
) -> html.Div:
    body: Any = (
        html.Div(problem, className="notice notice-error", role="alert")
        if problem
        else sessions_table(params, result or {"items": []})
    )
    return html.Div(
        className="sessions-page",
        children=[html.H1("Past sessions"), filter_form(params, events), body],
    )


SIGNALS = (
    ("chat_msgs_per_min", "chat / min"),
    ("reactions_per_min", "reactions / min"),
    ("active_users", "active users"),
    ("poll_participation", "poll participation"),
    ("user_leave_rate", "leave rate"),
)
MAX_OVERLAYS = 4  # besides the session itself: five lines at most
SIGNAL_AXIS_TITLE = "signal (as picked in the legend)"


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    xs: list[Any]  # timestamps, or minutes since the session's start
    points: Sequence[Mapping[str, Any]]


def session_figure(
    primary: Series,
    overlays: Sequence[Series],
    bands: Sequence[Mapping[str, Any]],
    markers: Sequence[Mapping[str, Any]],
    x_title: str,
) -> dict[str, Any]:
    """Score lines (the session, then up to four others), its signals (hidden until picked in
    the legend), its anomaly bands and intervention markers, already placed on the x axis."""
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": series.label,
            "x": series.xs,
            "y": [p["score"] for p in series.points],
        }
        for series in (primary, *overlays)
    ]
    for field, label in SIGNALS:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label,
                "x": primary.xs,
                "y": [p.get(field) for p in primary.points],
                "yaxis": "y2",
                "visible": "legendonly",
                "line": {"dash": "dot"},
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "interventions",
            "x": [m["x"] for m in markers],
            "y": [1.02] * len(markers),
            "text": [m["text"] for m in markers],
            "hoverinfo": "text+x",
            "marker": {"symbol": "triangle-down", "size": 11},
        }
    )
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": band["x0"],
            "x1": band["x1"],
            "y0": 0,
            "y1": 1,
            "fillcolor": SEVERITY_COLOURS.get(str(band["severity"]), "#999"),
            "opacity": 0.25,
            "line": {"width": 0},
            "name": f"anomaly:{band['episode_id']}",
        }
        for band in bands
    ]
    layout = {
        "yaxis": {"range": [0, 1.05], "title": {"text": "engagement score"}},
        # The signals start hidden, and so does their axis: with nothing on it, it showed a
        # scale of nothing (0, 0.762 … 3.809). callbacks/sessions.py shows it while a signal is
        # picked in the legend.
        "yaxis2": {
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "zeroline": False,
            "rangemode": "nonnegative",
            "showticklabels": False,
            "title": {"text": ""},
        },
        "xaxis": {"title": {"text": x_title}},
        "shapes": shapes,
        "margin": {"l": 50, "r": 60, "t": 60, "b": 40},
        "showlegend": True,
        # Beside the plot the legend covered the signal axis's labels.
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    }
    return {"data": data, "layout": layout}


def _event_name(session: Mapping[str, Any]) -> str:
    event_id = session.get("event_id")
    if not event_id:
        return "—"
    title = session.get("event_title")
    return f"{title} ({event_id})" if title else str(event_id)


def compare_options(
    choices: Sequence[tuple[str, str]], chosen: Sequence[str]
) -> list[dict[str, str]]:
    """The sessions to pick from, (id, label) pairs; a chosen one not among them (older than
    the list reaches) is kept, by its id."""
    options = [{"label": label, "value": sid} for sid, label in choices]
    listed = {sid for sid, _ in choices}
    return options + [{"label": sid, "value": sid} for sid in chosen if sid not in listed]


def compare_form(compare: str, align: str, choices: Sequence[tuple[str, str]] = ()) -> html.Div:
    chosen = [part.strip() for part in compare.split(",") if part.strip()]
    return html.Div(
        className="compare-form",
        children=[
            html.Label(f"Compare with up to {MAX_OVERLAYS} sessions", htmlFor=ids.SESSION_COMPARE),
            dcc.Dropdown(
                id=ids.SESSION_COMPARE,
                options=compare_options(choices, chosen),
                value=chosen,
                multi=True,
                placeholder="Type a title or an id",
            ),
            dcc.RadioItems(
                id=ids.SESSION_ALIGN,
                options=[
                    {"label": "by wall clock", "value": "clock"},
                    {"label": "by time since start", "value": "start"},
                ],
                value=align,
                inline=True,
                className="scope-pick",
            ),
            html.Button("Compare", id=ids.SESSION_COMPARE_APPLY, className="button"),
        ],
    )


def session_detail_page(
    session: Mapping[str, Any],
    bucket: str,
    figure: dict[str, Any] | None,
    problem: str | None,
    counts: tuple[int, int],
    compare: str = "",
    align: str = "clock",
    choices: Sequence[tuple[str, str]] = (),
) -> html.Div:
    """One past session's chart; `choices` are the sessions it can be compared with."""
    sid = str(session["session_id"])
    base = session_href(sid)
    buckets = [
        html.Strong(BUCKET_LABELS[b])
        if b == bucket
        else dcc.Link(
            BUCKET_LABELS[b], href=_href(base, {"compare": compare, "align": align}, bucket=b)
        )
        for b in BUCKET_LABELS
    ]
    spaced: list[Any] = []
    for n, item in enumerate(buckets):
        spaced += ([" · "] if n else []) + [item]
    export = f"{EXPORT_PATH}/{quote(sid, safe='')}/series"
    return html.Div(
        className="session-detail",
        children=[
            dcc.Link("← past sessions", href=SESSIONS_PATH),
            html.H1(session.get("title") or sid, className="session-title"),
            html.Div(
                (f"{sid} · " if session.get("title") else "") + f"event {_event_name(session)} · "
                f"{counts[0]} anomalies · {counts[1]} interventions",
                className="card-note",
            ),
            html.Div(["Bucket: ", *spaced], className="bucket-pick"),
            compare_form(compare, align, choices),
            html.Div(problem, className="notice notice-error", role="alert")
            if problem
            else dcc.Graph(id=ids.SESSION_GRAPH, figure=figure, style={"height": "420px"}),
            dcc.Store(id=ids.SESSION_AXIS_SINK),
            html.Div(
                [
                    "Export the series: ",
                    html.A("CSV", href=f"{export}.csv?bucket={bucket}"),
                    " · ",
                    html.A("JSON", href=f"{export}.json?bucket={bucket}"),
                ],
                className="card-note",
            ),
        ],
    )
