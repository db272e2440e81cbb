"""No browser: the anomaly list's formats, the chart's bands, and what the socket backfills."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import pytest

from app.factory import web_deps
from app.live_socket import backfill_message
from app.runtime import Runtime
from callbacks.pages.router import render_path
from components import ids
from components.anomalies import (
    NO_ANOMALIES,
    SEVERITY_COLOURS,
    anomaly_item,
    anomaly_items,
    anomaly_shapes,
    format_clock,
    format_duration,
    format_lasted,
    newest_first,
    type_label,
)
from components.figures import live_figure
from components.live_page import socket_config
from services.access.principal import OPEN_ACCESS
from services.storage.metrics_store import LIVE, SessionRecord
from tests.browser.support import T0, anomaly_row, episode, seed_session, stamps_from

NOW = datetime(2025, 5, 1, 10, 0, 0, tzinfo=UTC)
XS = [(NOW + timedelta(seconds=5 * i)).isoformat() for i in range(10)]


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "0s"),
        (-3, "0s"),
        (0.4, "0s"),
        (0.5, "1s"),
        (45, "45s"),
        (59.6, "1m 00s"),
        (80, "1m 20s"),
        (3599, "59m 59s"),
        (3600 + 5 * 60 + 20, "1h 05m"),
    ],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_an_item_leads_with_its_headline_then_when() -> None:
    exit_ = {"rule": "exit", "reference": 278, "value": 187, "seconds": 15.0}
    ep = {**episode("s", "e", at(0), severity="CRITICAL", kind="MASS_EXIT"), "trigger": exit_}
    head, explanation = anomaly_item(ep, at(80)).children
    assert [(span.className, span.children) for span in head.children] == [
        ("anomaly-type", "Mass exit"),
        ("severity severity-CRITICAL", "CRITICAL"),
        ("anomaly-score", "91 of 278 left in 15s"),
        ("anomaly-time", f"started {at(0):%H:%M:%S} UTC"),
        ("anomaly-lasted", "ongoing for 1m 20s"),
    ]
    assert explanation.className == "anomaly-explanation"


def test_clock_is_utc() -> None:
    assert format_clock("2025-05-01T12:34:56+02:00") == "10:34:56 UTC"
    assert format_clock("2025-05-01T10:00:00Z") == "10:00:00 UTC"
    assert format_clock(None) == format_clock("garbage") == "--:--:-- UTC"


def test_how_long_and_how_it_ended() -> None:
    open_ = episode("s", "e", at(0))
    assert format_lasted(open_, at(80)) == "ongoing for 1m 20s"
    done = episode("s", "e", at(0), ended=at(125), recovered=True, recovery_seconds=45)
    assert format_lasted(done, at(999)) == "lasted 2m 05s · recovered in 45s"
    assert format_lasted({**done, "recoverySeconds": None}, NOW) == "lasted 2m 05s · recovered"
    lost = episode("s", "e", at(0), ended=at(30), recovered=False)
    assert format_lasted(lost, NOW) == "lasted 30s · ended without recovery"
    assert format_lasted({**lost, "recovered": None}, NOW).endswith("ended without recovery")


def test_type_labels() -> None:
    assert type_label("SUDDEN_DROP") == "Sudden drop"
    assert type_label("GRADUAL_DECLINE") == "Gradual decline"
    assert type_label("MASS_EXIT") == "Mass exit"
    assert type_label("LOW_ENGAGEMENT") == "Low engagement"
    assert type_label("NEW_KIND") == "New kind"
    assert type_label(None) == "Anomaly"


def test_list_is_newest_first_with_an_empty_state() -> None:
    [empty] = anomaly_items([], NOW)
    assert empty.children == NO_ANOMALIES
    eps = [episode("s", "a", at(10)), episode("s", "c", at(20)), episode("s", "b", at(20))]
    assert [e["episodeId"] for e in newest_first(eps)] == ["c", "b", "a"]
    items = anomaly_items([*eps[:1], {**eps[1], "endedAt": at(30).isoformat()}], NOW)
    assert items[0].className == "anomaly anomaly-ended anomaly-WARNING"
    assert items[1].className == "anomaly anomaly-open anomaly-WARNING"


def test_explanation_is_a_plain_string_child() -> None:
    evil = "<img src=x onerror=alert(1)>"
    [item] = anomaly_items([episode("s", "e", NOW, explanation=evil)], NOW)
    assert item.children[-1].children == evil


def test_bands_cover_each_episode_within_the_window() -> None:
    before = episode("s", "before", at(-60), ended=at(-1))  # ended before the window
    left = episode("s", "left", at(-30), ended=at(10), severity="CRITICAL")
    inside = episode("s", "inside", at(15), ended=at(20))
    still = episode("s", "open", at(35))
    late = episode("s", "late", at(100))  # started after the newest point
    shapes = anomaly_shapes([still, late, before, inside, left], XS)
    assert [(s["name"], s["x0"], s["x1"], s["fillcolor"]) for s in shapes] == [
        ("anomaly:left", XS[0], at(10).isoformat(), SEVERITY_COLOURS["CRITICAL"]),
        ("anomaly:inside", at(15).isoformat(), at(20).isoformat(), SEVERITY_COLOURS["WARNING"]),
        ("anomaly:open", at(35).isoformat(), XS[-1], SEVERITY_COLOURS["WARNING"]),
        ("anomaly:late", at(100).isoformat(), at(100).isoformat(), SEVERITY_COLOURS["WARNING"]),
    ]
    assert all(s["xref"] == "x" and s["yref"] == "paper" and s["layer"] == "below" for s in shapes)
    assert anomaly_shapes([still], []) == []


def test_figure_draws_bands_after_the_category_bands() -> None:
    points = [{"timestamp": x, "score": 0.5} for x in XS]
    plain = live_figure("s", points)
    figure = live_figure("s", points, [episode("s", "e", at(15))])
    go.Figure(figure)  # plotly accepts every property we set
    assert figure["layout"]["shapes"][:-1] == plain["layout"]["shapes"]
    assert figure["layout"]["shapes"][-1]["name"] == "anomaly:e"


def test_socket_config_carries_the_list_id_and_texts() -> None:
    now = datetime(2025, 5, 1, tzinfo=UTC)
    config = socket_config(SessionRecord("s", None, LIVE, now, now, 0.5, 3), 60, 5.0)
    assert config["ids"]["anomalies"] == ids.ANOMALY_LIST
    assert config["anomalies"]["colours"] == SEVERITY_COLOURS
    assert config["anomalies"]["empty"] == NO_ANOMALIES
    assert config["anomalies"]["labels"]["SUDDEN_DROP"] == "Sudden drop"
    assert config["anomalies"]["unmeasured"]["MASS_EXIT"] == "people left"


def test_backfill_and_page_list_every_episode_and_band_the_windows(web_runtime: Runtime) -> None:
    stamps = stamps_from(T0, 5)
    seed_session(web_runtime, "s1", stamps=stamps)
    gone = episode("s1", "gone", T0 - timedelta(minutes=5), ended=T0 - timedelta(minutes=4))
    ended = episode("s1", "ended", stamps[1], ended=stamps[2], recovered=True, recovery_seconds=3)
    exit_ = {"rule": "exit", "reference": 20, "value": 11, "seconds": 15.0}
    still = {**episode("s1", "open", stamps[3], severity="CRITICAL"), "trigger": exit_}
    other = episode("s2", "other", stamps[3])
    rows = [anomaly_row(e) for e in (gone, ended, still, other)]
    rows[2]["signals"] = {"total_users": 11, "trigger": exit_}  # where the collector keeps it
    web_runtime.store.write_batch([], [], rows)

    # The list is the session's, newest first; only the chart's bands keep to its window.
    # Episodes stored without a trigger go out with a null one.
    message = json.loads(backfill_message(web_runtime, "s1"))
    assert message["anomalies"] == [still, {**ended, "trigger": None}, {**gone, "trigger": None}]
    page, _ = render_path(web_deps(web_runtime), OPEN_ACCESS, "/live/s1")
    text = str(page)
    assert "anomaly:open" in text and "anomaly:ended" in text and "anomaly:gone" not in text

    seed_session(web_runtime, "empty")
    assert json.loads(backfill_message(web_runtime, "empty"))["anomalies"] == []
