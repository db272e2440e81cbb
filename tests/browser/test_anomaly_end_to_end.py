"""A scripted drop, end to end: simulator → Redis → collector → detector → socket → browser.

The room runs on a simulated clock (tests/clocked.py): the browser follows the pushes live
while the room is played through as fast as the collector can score it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from app.runtime import Runtime
from services.core.settings import Settings
from services.simulation.simulator import Episode, EpisodeKind, SimSession
from services.storage.schema import anomalies
from tests.browser.support import anomaly_list, bands, open_live, started_runtime, wait_until
from tests.clocked import T0, BuildRoom, ClockedRoom

pytestmark = pytest.mark.browser

SESSION = "sess-scripted-drop"
# Long enough for the detector to learn the room's normal activity first (its warm-up is 6 ticks).
NORMAL_SECONDS = 45.0


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """The web tier at the deployment's tick; the room's collector is the clocked one."""
    yield from started_runtime(make_settings(), with_collector=False)


DROP_AT = T0 + NORMAL_SECONDS


@pytest.fixture
def room(clocked_room: BuildRoom) -> ClockedRoom:
    """A 1,000-person room whose activity falls to a tenth NORMAL_SECONDS in; not yet played.
    Requested before the server: dash's test server stops by raising SystemExit in every thread
    started while it ran, and the room's writer thread must outlive it to flush."""
    session = SimSession(
        session_id=SESSION,
        event_id="evt-drop",
        title="Scripted drop",
        audience=1000,
        join_seconds=5,
        poll_every=None,
        episodes=(Episode(EpisodeKind.SUDDEN_DROP, DROP_AT, DROP_AT + 120),),
    )
    return clocked_room([session], seed=11)


def test_a_scripted_drop_shows_in_the_anomaly_list_and_as_a_band(
    runtime: Runtime, room: ClockedRoom, served: Any
) -> None:
    dash_duo = served
    # The bound: the cliff rule's last ticks, from the drop's onset.
    flagged_by = DROP_AT + room.collector.book.detector_defaults.drop_short_ticks * room.tick
    room.run_until(T0 + room.tick)
    assert runtime.store.get_session(SESSION) is not None, "the first tick left no catalogue row"
    open_live(dash_duo, SESSION)
    room.run_until(flagged_by)

    def listed() -> list[dict[str, Any]] | None:
        items = anomaly_list(dash_duo) or []
        return [item for item in items if item["anomaly-type"] == "Sudden drop"] or None

    wait_until(dash_duo, listed, "the drop in the anomaly list")
    wait_until(dash_duo, lambda: bands(dash_duo), "the drop's band on the chart", timeout=10)

    with runtime.engine.connect() as conn:
        row = conn.execute(sa.select(anomalies).where(anomalies.c.session_id == SESSION)).first()
    assert row is not None and row.type == "SUDDEN_DROP"
    # Flagged after the scripted drop began, and within the bound.
    assert DROP_AT < row.time.timestamp() <= flagged_by
    (band,) = bands(dash_duo)
    assert band["name"] == f"anomaly:{row.episode_id}"
    assert dash_duo.get_logs() == []
