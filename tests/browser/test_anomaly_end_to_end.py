"""A scripted drop, end to end: simulator → Redis → collector → detector → socket → browser."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from dash.testing.wait import until

from app.runtime import Runtime
from services.core.settings import Settings
from services.simulation.simulator import Episode, EpisodeKind, SimSession, Simulator
from services.storage.schema import anomalies
from tests.browser.support import anomaly_list, bands, open_live, started_runtime, wait_until

pytestmark = pytest.mark.browser

SESSION = "sess-scripted-drop"
# Long enough for the detector to learn the room's normal activity first.
NORMAL_SECONDS = 45.0


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """This module's runtime collects (the others only serve): the detector runs for real."""
    yield from started_runtime(make_settings(tick_seconds=1), with_collector=True)


@pytest.fixture
def simulated_drop(runtime: Runtime) -> Iterator[float]:
    """A 1,000-person room whose activity falls to a tenth after NORMAL_SECONDS; its time."""
    assert runtime.collector is not None
    until(lambda: runtime.collector.is_leader, timeout=10, msg="the collector never led")
    start = time.time()
    drop_at = start + NORMAL_SECONDS
    session = SimSession(
        session_id=SESSION,
        event_id="evt-drop",
        title="Scripted drop",
        audience=1000,
        join_seconds=5,
        poll_every=None,
        episodes=(Episode(EpisodeKind.SUDDEN_DROP, drop_at, drop_at + 120),),
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=Simulator([session], seed=11, start=start).run,
        args=(runtime.redis, runtime.names, stop),
        kwargs={"interval": 0.1},
        daemon=True,
    )
    thread.start()
    yield drop_at
    stop.set()
    thread.join(10)


def test_a_scripted_drop_shows_in_the_anomaly_list_and_as_a_band(
    runtime: Runtime, simulated_drop: float, served: Any
) -> None:
    dash_duo = served
    until(
        lambda: runtime.store.get_session(SESSION) is not None,
        timeout=15,
        msg="the simulated session never reached the catalogue",
    )
    open_live(dash_duo, SESSION)

    def listed() -> list[dict[str, Any]] | None:
        items = anomaly_list(dash_duo) or []
        return [item for item in items if item["anomaly-type"] == "Sudden drop"] or None

    wait_until(dash_duo, listed, "the drop in the anomaly list", timeout=NORMAL_SECONDS + 45)
    wait_until(dash_duo, lambda: bands(dash_duo), "the drop's band on the chart", timeout=10)

    with runtime.engine.connect() as conn:
        row = conn.execute(sa.select(anomalies).where(anomalies.c.session_id == SESSION)).first()
    assert row is not None and row.type == "SUDDEN_DROP"
    # Flagged after the scripted drop began, and within the 3 ticks plus a margin.
    assert simulated_drop <= row.time.timestamp() <= simulated_drop + 20
    (band,) = bands(dash_duo)
    assert band["name"] == f"anomaly:{row.episode_id}"
    assert dash_duo.get_logs() == []
