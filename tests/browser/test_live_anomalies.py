"""Anomaly episodes on the live page in a real browser: the list and the chart's bands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from dash import html

from app.runtime import Runtime
from components import ids
from components.anomalies import (
    BAND_PREFIX,
    LABEL_PREFIX,
    NO_ANOMALIES,
    SEVERITY_COLOURS,
    anomaly_config,
    anomaly_item,
    anomaly_shapes,
    format_clock,
    format_duration,
    format_lasted,
    headline,
)
from tests.browser.support import (
    T0,
    anomaly_list,
    anomaly_message,
    anomaly_row,
    bands,
    chart,
    ec_live,
    episode,
    open_live,
    publish,
    seed_session,
    stamps_from,
    tick_message,
    wait_for_backfill_drawn,
    wait_until,
)
from tests.test_anomaly_headlines import SAMPLES

pytestmark = pytest.mark.browser

XAXIS_JS = f"""
var gd = document.getElementById({ids.GRAPH!r}).querySelector('.js-plotly-plot');
return {{range: Array.from(gd.layout.xaxis.range || []), auto: gd.layout.xaxis.autorange}};
"""


# What follows an item's severity badge, in the page's order.
BESIDE_SEVERITY_JS = f"""
return Array.from(document.querySelectorAll({f"#{ids.ANOMALY_LIST} .severity"!r}))
    .map(function (badge) {{ return badge.nextElementSibling.className; }});
"""
ARROW = "\u2192"


def with_trigger(ep: dict[str, Any], rule: str, reference: float, value: float) -> dict[str, Any]:
    seconds = None if rule == "activity" else 15.0
    trigger = {"rule": rule, "reference": reference, "value": value, "seconds": seconds}
    return {**ep, "trigger": trigger}


def stored(ep: dict[str, Any]) -> dict[str, Any]:
    """Its anomalies row, the trigger in the signals JSON as the collector keeps it."""
    row = anomaly_row(ep)
    if ep.get("trigger"):
        row["signals"] = {**row["signals"], "trigger": ep["trigger"]}
    return row


def band(ep: dict[str, Any], x0: str, x1: str) -> dict[str, Any]:
    colour = SEVERITY_COLOURS[ep["severity"]]
    return {"name": f"anomaly:{ep['episodeId']}", "x0": x0, "x1": x1, "fillcolor": colour}


def texts(component: Any) -> dict[str, str]:
    """className -> text of each element of a server-rendered list item."""
    found: dict[str, str] = {}

    def walk(node: Any) -> str:
        if isinstance(node, str):
            return node
        children = getattr(node, "children", None)
        items = children if isinstance(children, list) else [children]
        text = "".join(walk(child) for child in items if child is not None)
        if isinstance(node, html.Div | html.Span):
            found[node.className.split()[0]] = text
        return text

    walk(component)
    return found


def wait_drawn(dash_duo: Any, stamp: datetime) -> None:
    wait_until(
        dash_duo, lambda: ec_live(dash_duo, "lastDrawn") == stamp.isoformat(), f"{stamp} drawn"
    )


def test_pushed_episode_is_listed_and_banded_as_it_escalates_and_ends(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    sid = "sess-anomaly"
    stamps = stamps_from(T0, 20)
    seed_session(runtime, sid, stamps=stamps)
    open_live(dash_duo, sid)
    wait_for_backfill_drawn(dash_duo)
    dash_duo.wait_for_text_to_equal(f"#{ids.ANOMALY_LIST}", NO_ANOMALIES)
    assert bands(dash_duo) == []
    # The producer zooms in; no band update may undo that.
    dash_duo.driver.execute_script(
        f"var gd = document.getElementById({ids.GRAPH!r}).querySelector('.js-plotly-plot');"
        f"window.Plotly.relayout(gd, {{'xaxis.range': ['{stamps[2]:%Y-%m-%d %H:%M:%S}',"
        f" '{stamps[18]:%Y-%m-%d %H:%M:%S}']}});"
    )
    wait_until(dash_duo, lambda: dash_duo.driver.execute_script(XAXIS_JS)["auto"] is False, "zoom")
    zoom = dash_duo.driver.execute_script(XAXIS_JS)

    ep = with_trigger(episode(sid, "ep-1", stamps[12]), "activity", 120.0, 30.0)
    publish(runtime, sid, anomaly_message("started", ep))
    wait_until(dash_duo, lambda: len(anomaly_list(dash_duo) or []) == 1, "the episode listed")
    item = anomaly_list(dash_duo)[0]
    assert "anomaly-open" in item["className"]
    assert item["anomaly-type"] == "Sudden drop"
    assert item["severity"] == "WARNING"
    assert item["anomaly-time"] == f"started {stamps[12]:%H:%M:%S} UTC"
    assert item["anomaly-lasted"].startswith("ongoing for ")
    assert item["anomaly-score"] == f"chat and reactions 120/min {ARROW} 30/min"
    assert dash_duo.driver.execute_script(BESIDE_SEVERITY_JS) == ["anomaly-score"]
    assert item["anomaly-explanation"] == ep["explanation"]
    last = stamps[-1].isoformat()
    wait_until(dash_duo, lambda: bands(dash_duo) == [band(ep, ep["startedAt"], last)], "band")

    # While open, the band reaches the newest point.
    later = stamps_from(stamps[-1], 3)[1:]
    for i, at in enumerate(later):
        publish(runtime, sid, tick_message(sid, at, 0.2, i))
    wait_drawn(dash_duo, later[-1])
    wait_until(
        dash_duo,
        lambda: bands(dash_duo) == [band(ep, ep["startedAt"], later[-1].isoformat())],
        "the open band did not follow the newest point",
    )

    worse = with_trigger({**ep, "severity": "CRITICAL"}, "activity", 120.0, 12.0)
    publish(runtime, sid, anomaly_message("escalated", worse))
    dash_duo.wait_for_text_to_equal(f"#{ids.ANOMALY_LIST} .severity", "CRITICAL")
    wait_until(
        dash_duo,
        lambda: bands(dash_duo) == [band(worse, ep["startedAt"], later[-1].isoformat())],
        "the band did not turn critical",
    )
    assert (
        anomaly_list(dash_duo)[0]["anomaly-score"] == f"chat and reactions 120/min {ARROW} 12/min"
    )

    ended = {**worse, "endedAt": later[0].isoformat(), "recovered": True, "recoverySeconds": 45.0}
    publish(runtime, sid, anomaly_message("ended", ended))
    dash_duo.wait_for_text_to_equal(
        f"#{ids.ANOMALY_LIST} .anomaly-lasted", "lasted 40s · recovered in 45s"
    )
    assert "anomaly-ended" in anomaly_list(dash_duo)[0]["className"]
    wait_until(
        dash_duo,
        lambda: bands(dash_duo) == [band(ended, ep["startedAt"], ended["endedAt"])],
        "the band did not end",
    )
    # A late, older message does not reopen it.
    publish(runtime, sid, anomaly_message("escalated", worse))
    publish(runtime, sid, tick_message(sid, later[-1] + timedelta(seconds=5), 0.6))
    wait_drawn(dash_duo, later[-1] + timedelta(seconds=5))
    assert "anomaly-ended" in anomaly_list(dash_duo)[0]["className"]

    # The bands never cost a point, nor the zoom.
    data = chart(dash_duo)
    assert data is not None
    assert data["x"] == [
        at.isoformat() for at in [*stamps, *later, later[-1] + timedelta(seconds=5)]
    ]
    assert dash_duo.driver.execute_script(XAXIS_JS) == zoom

    # The window slides past the episode: its band goes, the list keeps it.
    more = stamps_from(later[-1] + timedelta(seconds=5), 61)[1:]
    for i, at in enumerate(more):
        publish(runtime, sid, tick_message(sid, at, 0.5, i))
    wait_drawn(dash_duo, more[-1])
    wait_until(dash_duo, lambda: bands(dash_duo) == [], "the band outside the window stayed")
    assert len(anomaly_list(dash_duo)) == 1
    assert ec_live(dash_duo, "backfills") == 1
    assert dash_duo.get_logs() == []


def test_episodes_come_back_from_the_database_on_reload(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    sid = "sess-anomaly-history"
    stamps = stamps_from(T0, 30)
    seed_session(runtime, sid, stamps=stamps)
    open_live(dash_duo, sid)
    wait_for_backfill_drawn(dash_duo)
    dash_duo.wait_for_text_to_equal(f"#{ids.ANOMALY_LIST}", NO_ANOMALIES)

    # Written while the page was open and never pushed: only a reload shows them. The oldest
    # was stored before episodes kept their trigger.
    gone = episode(sid, "ep-gone", T0 - timedelta(minutes=9), ended=T0 - timedelta(minutes=8))
    ended = with_trigger(
        episode(sid, "ep-ended", T0 - timedelta(seconds=20), ended=stamps[8], recovered=False),
        "activity",
        29.4,
        2.4,
    )
    still = with_trigger(
        episode(sid, "ep-open", stamps[20], severity="CRITICAL", kind="MASS_EXIT"), "exit", 278, 187
    )
    runtime.store.write_batch([], [], [stored(e) for e in (gone, ended, still)])

    dash_duo.driver.refresh()
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
    wait_for_backfill_drawn(dash_duo)
    xs = [at.isoformat() for at in stamps]
    expected_bands = [
        {k: s[k] for k in ("name", "x0", "x1", "fillcolor")}
        for s in anomaly_shapes([ended, still], xs)
    ]
    assert expected_bands == [band(ended, xs[0], ended["endedAt"]), band(still, xs[20], xs[-1])]
    wait_until(dash_duo, lambda: bands(dash_duo) == expected_bands, "bands after reload")

    # The browser lists them as the server renders them, newest first. The one that ended
    # before the chart's window has no band but stays in the session's list (review: the list
    # said "No anomalies in this session" once the window had slid past them all).
    listed = anomaly_list(dash_duo)
    assert [item["anomaly-type"] for item in listed] == ["Mass exit", "Sudden drop", "Sudden drop"]
    assert "anomaly-open" in listed[0]["className"]
    now = datetime.now(T0.tzinfo)
    for item, ep in zip(listed, [still, ended, gone], strict=True):
        server = texts(anomaly_item(ep, now))
        assert item["className"] == anomaly_item(ep, now).className
        for key in ("anomaly-type", "severity", "anomaly-time", "anomaly-score"):
            assert item[key] == server[key]
        assert item["anomaly-explanation"] == server["anomaly-explanation"]
    assert [item["anomaly-score"] for item in listed] == [
        "91 of 278 left in 15s",
        f"chat and reactions 29/min {ARROW} 2/min",
        "chat and reactions fell",
    ]
    assert dash_duo.driver.execute_script(BESIDE_SEVERITY_JS) == ["anomaly-score"] * 3
    assert listed[0]["anomaly-lasted"].startswith("ongoing for ")
    assert listed[1]["anomaly-lasted"] == "lasted 1m 00s · ended without recovery"
    assert ec_live(dash_duo, "backfills") == 1
    assert dash_duo.get_logs() == []


def test_explanations_are_shown_as_text_never_as_markup(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    sid = "sess-anomaly-xss"
    evil = "<img src=x onerror=alert(1)>"
    stamps = stamps_from(T0, 10)
    seed_session(runtime, sid, stamps=stamps)
    stored = episode(
        sid,
        "ep-stored",
        stamps[1],
        ended=stamps[3],
        recovered=True,
        recovery_seconds=5,
        explanation=evil + " stored",
    )
    runtime.store.write_batch([], [], [anomaly_row(stored)])
    open_live(dash_duo, sid)
    wait_for_backfill_drawn(dash_duo)

    pushed = episode(sid, "ep-pushed", stamps[6], explanation=evil)
    # Another session's episode on this channel is not this page's.
    publish(runtime, sid, anomaly_message("started", episode("other", "ep-x", stamps[5])))
    publish(runtime, sid, anomaly_message("started", pushed))
    wait_until(dash_duo, lambda: len(anomaly_list(dash_duo) or []) == 2, "both listed")
    listed = anomaly_list(dash_duo)
    assert [item["anomaly-explanation"] for item in listed] == [evil, evil + " stored"]
    assert dash_duo.find_elements(f"#{ids.ANOMALY_LIST} img") == []
    assert dash_duo.get_logs() == []


def test_browser_formats_and_bands_match_the_server(served: Any, runtime: Runtime) -> None:
    """assets/live_format.js and live_anomalies.js against components/anomalies.py."""
    dash_duo = served
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/")
    dash_duo.wait_for_element(f"#{ids.PAGE}")
    now = T0 + timedelta(minutes=3)
    seconds = [-3, 0.4, 0.5, 45, 59.6, 80, 3599, 3925, 86400 * 2 + 7]
    eps = [
        episode(
            "s", "a", T0, ended=T0 + timedelta(seconds=125), recovered=True, recovery_seconds=44.6
        ),
        episode("s", "b", T0 + timedelta(seconds=30), severity="CRITICAL", kind="NEW_KIND"),
        episode("s", "c", T0 - timedelta(seconds=50), ended=T0 + timedelta(seconds=5)),
        episode("s", "d", T0 - timedelta(seconds=90), ended=T0 - timedelta(seconds=1)),
        episode("s", "e", T0 + timedelta(minutes=9)),
    ]
    xs = [at.isoformat() for at in stamps_from(T0, 20)]
    got = dash_duo.driver.execute_script(
        """
        var F = window.ecFormat, A = window.ecAnomalies, a = arguments;
        var S = {cfg: {sessionId: 's', anomalies: a[5]}};
        A.init(S);
        A.reset(S, a[3]);
        return {
            durations: a[0].map(F.duration),
            headlines: a[1].map(function (ep) { return F.headline(a[5], ep); }),
            lasted: a[3].map(function (ep) { return F.lasted(ep, a[2]); }),
            clocks: a[3].map(function (ep) { return F.clockUtc(ep.startedAt); }),
            shapes: A.withBands(S, {shapes: []}, a[4]).shapes
        };
        """,
        seconds,
        SAMPLES,
        now.timestamp() * 1000,
        eps,
        xs,
        anomaly_config(),
    )
    assert got["durations"] == [format_duration(s) for s in seconds]
    # Every type, each alarm's numbers, old episodes without them, numbers it cannot read.
    assert got["headlines"] == [list(headline(ep)) for ep in SAMPLES]
    assert got["lasted"] == [format_lasted(ep, now) for ep in eps]
    assert got["clocks"] == [format_clock(ep["startedAt"]) for ep in eps]
    bands = [s for s in got["shapes"] if s["name"].startswith(BAND_PREFIX)]
    assert bands == anomaly_shapes(eps, xs)
    # Each band has its label (type and severity in words), the rest of the shapes.
    labels = [s for s in got["shapes"] if s["name"].startswith(LABEL_PREFIX)]
    assert [s["name"][len(LABEL_PREFIX) :] for s in labels] == [
        b["name"][len(BAND_PREFIX) :] for b in bands
    ]
    assert len(labels) + len(bands) == len(got["shapes"])
    assert dash_duo.get_logs() == []
