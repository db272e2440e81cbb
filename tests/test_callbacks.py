"""Callbacks called as plain functions: Dash's raw inputs parsed at the boundary, and the
producer callbacks' refusals, with a principal and the runtime's stores (no Dash, no request)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dash
import pytest
from dash.exceptions import PreventUpdate

from app.factory import web_deps
from app.runtime import Runtime
from callbacks import event_settings
from callbacks.agent import DecisionClick, launch, launch_type, performance_scope, signal_count
from callbacks.alerts import alerted_memory
from callbacks.boundary import LiveConfig, principal
from callbacks.event_settings import SettingsForm, save_event_settings
from callbacks.live import open_session, refresh_pickers
from callbacks.sessions import compare_search, filter_search
from components import ids
from services.access.principal import OPEN_ACCESS, Principal
from services.access.tokens import Role
from services.core.settings import Settings
from tests.browser.support import T0, seed_session, stamps_from, two_event_runtime

PRODUCER = Principal(Role.PRODUCER, frozenset({"evt-1"}), "p")
ANALYST = Principal(Role.ANALYST, frozenset({"evt-1"}), "a")


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from two_event_runtime(make_settings())


def test_the_config_store_is_read_for_its_session_id_only() -> None:
    assert LiveConfig.parse(None) is None and LiveConfig.parse({}) is None
    assert LiveConfig.parse({"sessionId": "s-1", "ids": {}}) == LiveConfig("s-1")
    # Forged shapes become an id no session has: the guard refuses them like any other.
    assert LiveConfig.parse({"sessionId": 5}) == LiveConfig("")
    assert LiveConfig.parse([1, 2]) == LiveConfig("")


def test_raw_inputs_become_typed_values() -> None:
    approve = {"type": ids.APPROVE_BUTTON, "id": "iv-1"}
    assert DecisionClick.parse(approve, 1) == DecisionClick("iv-1", approve=True)
    assert DecisionClick.parse({"type": ids.DISMISS_BUTTON, "id": "iv-1"}, 2).approve is False
    assert DecisionClick.parse(approve, None) is None  # a re-rendered button, not a click
    assert DecisionClick.parse(ids.AGENT_LAUNCH, 1) is None
    assert performance_scope("context") == "context" and performance_scope("x") == "all"
    assert launch_type("POLL") is not None and launch_type(None) is None
    assert signal_count(3) == 3 and signal_count("3") == 0
    assert alerted_memory({"ep-1": 10, "ep-2": "x", "ep-3": True}) == {"ep-1": 10.0}
    assert alerted_memory([1, 2]) == {} and alerted_memory(None) == {}


def test_forms_become_links() -> None:
    chosen = {"event": "evt-1", "q": "  keynote ", "below": 0.4, "anomaly": ["SUDDEN_DROP"]}
    search = filter_search(chosen | {"status": None, "intervention": []}, "?sort=min_score&page=3")
    assert search == "?sort=min_score&event=evt-1&q=keynote&anomaly=SUDDEN_DROP"
    assert "below=0.4" in filter_search({"below": 0.4, "below_minutes": 5}, "")
    assert filter_search({"below": 0.4}, "") == ""
    assert compare_search(" s-2,s-3 ", "start", "?bucket=1m&q=x") == (
        "?bucket=1m&compare=s-2%2Cs-3&align=start"
    )
    assert compare_search(None, "clock", "") == ""
    # The picker's list.
    assert compare_search(["s-2", " s-3", ""], "clock", "") == "?compare=s-2%2Cs-3"
    assert compare_search([], "start", "") == "?align=start"


def test_picking_a_session_opens_its_page_unless_it_is_on_screen() -> None:
    assert open_session("a/b", LiveConfig("s-1")) == "/live/a%2Fb"
    for picked, viewing in (("s-1", LiveConfig("s-1")), (None, None), ("", LiveConfig("s-1"))):
        with pytest.raises(PreventUpdate):
            open_session(picked, viewing)


def test_a_request_without_a_principal_updates_nothing() -> None:
    assert principal(lambda: PRODUCER) is PRODUCER
    with pytest.raises(PreventUpdate):
        principal(lambda: None)


def test_pickers_are_a_producers_and_keep_only_sessions_of_its_events(runtime: Runtime) -> None:
    deps = web_deps(runtime)
    with pytest.raises(PreventUpdate):
        refresh_pickers(deps, ANALYST, None, None)
    events, sessions = refresh_pickers(deps, PRODUCER, None, LiveConfig("s-2"))
    assert [option["value"] for option in events] == ["evt-1"]
    assert [option["value"] for option in sessions] == ["s-1"]  # s-2 is another event's


def test_settings_are_saved_only_for_a_producer_of_the_sessions_event(runtime: Runtime) -> None:
    deps = web_deps(runtime)
    form = SettingsForm(agent={"mode": "AUTO", "hourly_cap": ""}, detector={}, alerts={})

    def says(who: Principal, session_id: str) -> str:
        return str(save_event_settings(deps, who, form, LiveConfig(session_id))[0])

    assert event_settings.NOT_YOUR_EVENT in says(PRODUCER, "s-2")
    assert event_settings.NOT_YOUR_EVENT in says(ANALYST, "s-1")
    assert event_settings.NO_EVENT in says(PRODUCER, "nope")
    seed_session(runtime, "loose", None, stamps=stamps_from(T0, 1))
    assert event_settings.NO_EVENT in says(OPEN_ACCESS, "loose")
    assert "Fill in: hourly_cap. Nothing was saved." in says(PRODUCER, "s-1")


def test_a_launch_names_its_type(runtime: Runtime) -> None:
    shown, signal = launch(web_deps(runtime), PRODUCER, None, LiveConfig("s-1"), 4)
    assert "Choose an intervention type to launch." in str(shown) and signal is dash.no_update
    assert runtime.desk.store.for_session("s-1", 1) == []
