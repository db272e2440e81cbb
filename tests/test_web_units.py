"""No browser: the figure builder, formatting, socket message rules and routing decisions."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import plotly.graph_objects as go
import pytest

from app.factory import web_deps
from app.live_socket import MAX_CLIENT_MESSAGE_BYTES, reply_to_client
from app.runtime import Runtime
from callbacks.pages.router import render_path
from components import ids
from components.agent_panel import performance_table
from components.figures import BAND_COLOURS, band_ranges, live_figure, live_layout
from components.live_page import (
    format_signals,
    live_href,
    session_options,
    socket_config,
)
from components.sessions_page import Series, session_figure
from components.written_by import written_words
from services.access.principal import OPEN_ACCESS
from services.agent.report import PerformanceRow
from services.core.vocabulary import InterventionType
from services.ingest.score import CATEGORY_BANDS
from services.storage.metrics_store import ENDED, LIVE, SessionRecord
from tests.browser.support import T0, seed_session, stamps_from

POINTS = [
    {"timestamp": "2025-05-01T10:00:00+00:00", "score": 0.25, "signals": {}},
    {"timestamp": "2025-05-01T10:00:05+00:00", "score": 0.75, "signals": {}},
]


def record(session_id: str = "s1", status: str = LIVE, score: float | None = 0.5) -> SessionRecord:
    now = datetime(2025, 5, 1, tzinfo=UTC)
    return SessionRecord(session_id, "evt-1", status, now, now, score, 12)


# -- figures --------------------------------------------------------------------------------------


def test_a_type_without_outcomes_shows_no_interval() -> None:
    """Review: "no data" stood next to "3% to 98%", the prior's interval, as if measured."""
    rows = [
        PerformanceRow(InterventionType.POLL, 4, 3, 0.75, 0.3, 0.95, 0.05),
        PerformanceRow(InterventionType.CHAT_PROMPT, 0, 0, None, 0.025, 0.975, None),
    ]
    body = performance_table(rows, "all contexts").children[1].children[1].children
    cells = [[td.children for td in tr.children] for tr in body]
    assert cells[0][1:4] == ["75%", "30% to 95%", "4"]
    assert cells[1][1:4] == ["no data", "—", "0"]


def test_the_hidden_signal_axis_draws_nothing_that_reads_as_a_score_threshold() -> None:
    """Review: the past-session chart's empty signal axis drew its zero line across the plot at
    about score 0.2, with labels from -1 to 3.8 clipped by the legend."""
    xs = [p["timestamp"] for p in POINTS]
    figure = session_figure(Series("s1", xs, POINTS), [], [], [], "time (UTC)")
    validated = go.Figure(figure)  # plotly accepts every property
    y2 = validated.layout.yaxis2
    assert y2.zeroline is False and y2.rangemode == "nonnegative"
    assert validated.layout.legend.orientation == "h"
    hidden = [t for t in validated.data if t.yaxis == "y2"]
    assert hidden and all(t.visible == "legendonly" for t in hidden)


def test_figure_plots_the_points_in_order_on_a_fixed_0_to_1_axis() -> None:
    figure = live_figure("s1", POINTS)
    go.Figure(figure)  # plotly accepts every property we set
    trace = figure["data"][0]
    assert trace["x"] == [p["timestamp"] for p in POINTS]
    assert trace["y"] == [0.25, 0.75]
    assert trace["meta"] == 0
    layout = figure["layout"]
    assert layout["yaxis"]["range"] == [0, 1]
    assert layout["yaxis"]["autorange"] is False
    assert layout["uirevision"] == "s1"
    assert live_layout("s2")["uirevision"] == "s2"


def test_category_bands_are_shaded_and_tile_the_axis() -> None:
    ranges = band_ranges()
    assert [name for name, _, _ in ranges] == [name for _, name in CATEGORY_BANDS]
    assert ranges[0][2] == 1.0 and ranges[-1][1] == 0.0
    for (_, floor, _), (_, _, ceiling) in itertools.pairwise(ranges):
        assert floor == ceiling
    shapes = live_layout("s1")["shapes"]
    assert [(s["y0"], s["y1"]) for s in shapes] == [(lo, hi) for _, lo, hi in ranges]
    assert {s["fillcolor"] for s in shapes} == set(BAND_COLOURS.values())
    assert all(s["layer"] == "below" and s["xref"] == "paper" for s in shapes)


def test_empty_figure_still_has_bands() -> None:
    figure = live_figure("s1", [])
    assert figure["data"][0]["x"] == []
    assert len(figure["layout"]["shapes"]) == len(CATEGORY_BANDS)


def test_socket_config_carries_ids_layout_and_a_trace_without_data() -> None:
    config = socket_config(record("a/b"), 60, 5.0)
    assert config["sessionId"] == "a/b"
    assert config["maxPoints"] == 60
    assert config["ids"]["graph"] == ids.GRAPH
    assert config["ids"]["signals"] == ids.SIGNAL_IDS
    assert "x" not in config["trace"] and "meta" not in config["trace"]
    assert config["layout"] == live_layout("a/b")
    assert socket_config(record(status=ENDED), 60, 5.0)["ended"] is True
    json.dumps(config)


# -- formatting -----------------------------------------------------------------------------------


def test_signal_formats() -> None:
    assert format_signals(
        {
            "chat_msgs_per_min": 4.26,
            "poll_participation": 0.4,
            "active_users": 7,
            "total_users": 30,
            "reactions_per_min": 2.0,
            "user_leave_rate": 0.0333,
        }
    ) == {"chat": "4.3", "poll": "40 %", "users": "7 / 30", "reactions": "2.0", "leave": "3.3 %"}
    assert set(format_signals(None).values()) == {"—"}
    idle = format_signals({"poll_participation": 0.0, "poll_active": False})
    assert idle["poll"] == "no poll"


def test_session_options_label_scores_and_keep_the_current_session() -> None:
    live = [record("s1", score=0.81), record("s2", score=None)]
    options = session_options(live, current=record("old", status=ENDED))
    assert options[0] == {"label": "old · ended", "value": "old"}
    assert options[1]["label"] == "s1 · 0.81 VERY_HIGH · 12 present"
    assert options[2]["label"] == "s2 · no score yet"
    assert len(session_options(live, current=live[0])) == 2


def test_live_links_escape_the_session_id() -> None:
    assert live_href("a/b c") == "/live/a%2Fb%20c"


# -- socket messages ------------------------------------------------------------------------------


def test_ping_gets_pong() -> None:
    assert json.loads(reply_to_client('{"type": "ping"}')) == {"kind": "pong"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{nope", "not valid JSON"),
        ("[]", "JSON object"),
        ('"ping"', "JSON object"),
        ("{}", 'no "type"'),
        ('{"type": "subscribe"}', 'unknown message type "subscribe"'),
        ('{"type": "' + "x" * 100 + '"}', "x" * 40 + '"'),
        (json.dumps({"type": "ping", "pad": "x" * MAX_CLIENT_MESSAGE_BYTES}), "larger than"),
        ('{"type": "ping", "pad": "' + "é" * 2100 + '"}', "larger than"),
        (b'{"type": "ping"}', "binary frames"),
    ],
)
def test_anything_else_gets_a_clear_error(raw: str | bytes, reason: str) -> None:
    reply = json.loads(reply_to_client(raw))
    assert reply["kind"] == "error"
    assert reason in reply["error"]


# -- routing --------------------------------------------------------------------------------------


def test_routes(web_runtime: Runtime) -> None:
    deps = web_deps(web_runtime)
    seed_session(web_runtime, "a/b", stamps=stamps_from(T0, 3))
    page, config = render_path(deps, OPEN_ACCESS, "/live/a%2Fb")
    assert config is not None and config["sessionId"] == "a/b"
    assert "a/b" in str(page)
    for path in ("/", "/live", "/live/", "/live/unknown", "/live/%20x", "/elsewhere"):
        page, config = render_path(deps, OPEN_ACCESS, path)
        assert config is None, path
    assert "Page not found" in str(render_path(deps, OPEN_ACCESS, "/elsewhere")[0])
    assert "is not a valid session id" in str(render_path(deps, OPEN_ACCESS, "/live/%20x")[0])


def test_the_card_says_who_wrote_the_words_only_when_a_model_took_part() -> None:
    assert written_words(None, None) is None  # a row older than the writer
    assert written_words("template", None) is None  # no model configured, or opted out
    assert written_words("template", {"state": "writing"}) == (
        "Template for now: the model is writing"
    )
    assert written_words("template", {"fallback": "timed out"}) == (
        "Template: the model took too long"
    )
    assert written_words("template", {"fallback": "token budget spent"}) == (
        "Template: the event's token budget is spent"
    )
    assert written_words("template", {"fallback": "a reason from a newer version"}) == (
        "Template: a reason from a newer version"
    )
    assert written_words("big-model", {"latency_ms": 1840}) == "Written by big-model in 1.8 s"
    assert written_words("big-model", {}) == "Written by big-model"
