"""The intervention agent on the live page in a real browser: approve and dismiss from the
pending card, the mode switch, a manual launch, the event's settings, and the log updating live
with the measured outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.runtime import Runtime
from components import ids
from components.agent_panel import NO_PENDING
from services.agent.desk import SessionContext
from services.agent.followup import InterventionFollowUp
from services.agent.reward import RewardRule
from services.core.vocabulary import AgentMode
from services.detection.event_settings import EventSettingsStore
from services.storage.schema import engagement_metrics, interventions
from tests.browser.support import click, open_live, seed_session, stamps_from, wait_until

pytestmark = pytest.mark.browser

SID = "sess-agent"
SESSION = SessionContext(SID, "evt-1", engagement=0.3, present_users=120, chat_per_min=4.0)

LOG_JS = f"""
return Array.from(document.querySelectorAll('#{ids.INTERVENTION_LOG} tr.intervention-row'))
    .map(function (row) {{
        return {{id: row.dataset.intervention, status: row.className,
                 cells: Array.from(row.cells).map(function (c) {{ return c.innerText; }})}};
    }});
"""


class Platform:
    """Listens on agent.interventions, as the event platform would."""

    def __init__(self, runtime: Runtime) -> None:
        self.pubsub = runtime.redis.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(runtime.names.agent_channel)
        self.received: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while (message := self.pubsub.get_message(timeout=0.05)) is not None:
            self.received.append(json.loads(message["data"]))
        return self.received


@pytest.fixture
def platform(runtime: Runtime) -> Iterator[Platform]:
    listener = Platform(runtime)
    yield listener
    listener.pubsub.close()


def log_rows(dash_duo: Any) -> list[dict[str, Any]]:
    return dash_duo.driver.execute_script(LOG_JS) or []


def row_of(dash_duo: Any, intervention_id: str) -> dict[str, Any] | None:
    return next((r for r in log_rows(dash_duo) if r["id"] == intervention_id), None)


def open_page(dash_duo: Any, runtime: Runtime) -> None:
    # Scores that end minutes ago, so those a test writes around an intervention are alone
    # in its measurement windows.
    now = datetime.now(UTC).replace(microsecond=0)
    seed_session(runtime, SID, stamps=stamps_from(now - timedelta(seconds=400), 20))
    open_live(dash_duo, SID)
    dash_duo.wait_for_element(f"#{ids.INTERVENTION_LOG}")


def propose(runtime: Runtime) -> Any:
    return runtime.desk.propose(SESSION, "SUDDEN_DROP", -0.5, "ep-1", "Chat fell to 2/min")


def test_approve_from_the_pending_card_executes_and_logs(
    served: Any, runtime: Runtime, platform: Platform
) -> None:
    dash_duo = served
    open_page(dash_duo, runtime)
    dash_duo.wait_for_text_to_equal(f"#{ids.AGENT_PENDING}", NO_PENDING)
    record = propose(runtime)
    card = f".suggestion-card[data-intervention='{record.intervention_id}']"
    dash_duo.wait_for_element(card)
    # Read through waits that find the card afresh: a re-render may replace it at any time.
    for shown in ("estimated success 50%", "Little is known here yet", "expires in"):
        dash_duo.wait_for_contains_text(card, shown)
    click(dash_duo, f"{card} .button-primary")
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MESSAGE}", "Approved")
    wait_until(
        dash_duo,
        lambda: (
            "status-executed" in (row_of(dash_duo, record.intervention_id) or {}).get("status", "")
        ),
        "the log shows it sent",
    )
    dash_duo.wait_for_text_to_equal(f"#{ids.AGENT_PENDING}", NO_PENDING)
    wait_until(dash_duo, platform.drain, "the message on agent.interventions")
    assert [m["intervention_id"] for m in platform.received] == [record.intervention_id]
    assert dash_duo.get_logs() == []


def test_dismiss_from_the_pending_card_is_recorded(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    open_page(dash_duo, runtime)
    record = propose(runtime)
    card = f".suggestion-card[data-intervention='{record.intervention_id}']"
    dash_duo.wait_for_element(card)
    click(dash_duo, f"{card} .suggestion-actions .button", nth=1)
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MESSAGE}", "Dismissed")
    wait_until(
        dash_duo,
        lambda: (
            "status-dismissed" in (row_of(dash_duo, record.intervention_id) or {}).get("status", "")
        ),
        "the log shows the dismissal",
    )
    assert runtime.desk.store.get(record.intervention_id).status == "dismissed"
    assert dash_duo.get_logs() == []


def test_an_expired_suggestion_says_so_when_approved(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    open_page(dash_duo, runtime)
    record = propose(runtime)
    card = f".suggestion-card[data-intervention='{record.intervention_id}']"
    dash_duo.wait_for_element(card)
    with runtime.engine.begin() as conn:
        conn.execute(
            sa.update(interventions)
            .where(interventions.c.intervention_id == record.intervention_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    click(dash_duo, f"{card} .button-primary")
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MESSAGE}", "expired; it was not sent")
    assert runtime.desk.store.get(record.intervention_id).status == "expired"
    assert dash_duo.get_logs() == []


def test_mode_switch_overrides_the_events_mode_for_this_session(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    open_page(dash_duo, runtime)
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MODE_NOTE}", "MANUAL (the event's mode)")
    dash_duo.select_dcc_dropdown(
        f"#{ids.AGENT_MODE}", "SEMI_AUTO: acts alone when confident, otherwise asks"
    )
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MODE_NOTE}", "SEMI_AUTO (set for this session)")
    assert runtime.desk.settings.session_mode(SID) is AgentMode.SEMI_AUTO
    dash_duo.select_dcc_dropdown(f"#{ids.AGENT_MODE}", "Event's mode (MANUAL)")
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MODE_NOTE}", "MANUAL (the event's mode)")
    assert runtime.desk.settings.session_mode(SID) is None
    assert dash_duo.get_logs() == []


def test_manual_launch_and_the_log_updating_live_with_the_measured_outcome(
    served: Any, runtime: Runtime, platform: Platform
) -> None:
    dash_duo = served
    open_page(dash_duo, runtime)
    dash_duo.select_dcc_dropdown(f"#{ids.AGENT_LAUNCH_TYPE}", "Chat prompt")
    dash_duo.find_element(f"#{ids.AGENT_LAUNCH}").click()
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MESSAGE}", "Launched")
    wait_until(dash_duo, lambda: len(platform.drain()) == 1, "the launch reached the platform")
    launched = platform.received[0]["intervention_id"]
    record = runtime.desk.store.get(launched)
    assert record.status == "executed" and record.type == "CHAT_PROMPT"
    wait_until(dash_duo, lambda: row_of(dash_duo, launched) is not None, "the launch logged")

    # Scores around the launch: 0.30 before, 0.45 after; then the collector's measurement.
    executed = record.executed_at
    rows = [
        {
            "time": executed + timedelta(seconds=offset),
            "session_id": SID,
            "event_id": "evt-1",
            "engagement_score": 0.30 if offset < 0 else 0.45,
            "chat_msgs_per_min": 3.0,
            "poll_participation": 0.0,
            "active_users": 30,
            "reactions_per_min": 2.0,
            "user_leave_rate": 0.0,
            "extra": {},
        }
        for offset in (-25, -15, -5, 35, 45, 55)
    ]
    with runtime.engine.begin() as conn:
        conn.execute(engagement_metrics.insert(), rows)
    followup = InterventionFollowUp(
        runtime.desk.sender, runtime.desk.posteriors, RewardRule.for_delay(60)
    )
    assert len(followup.measure(executed + timedelta(seconds=61))) == 1

    def outcome_shown() -> bool:
        row = row_of(dash_duo, launched)
        return row is not None and "0.30 → 0.45 (+0.15, worked)" in row["cells"][-1]

    wait_until(dash_duo, outcome_shown, "the measured outcome in the log")
    # Regression: the signal is a store, which has no element; live.js waited for one and the
    # log only caught up on its interval refresh.
    signal = f"return window.dash_component_api.getLayout({ids.AGENT_SIGNAL!r}).props.data;"
    assert dash_duo.driver.execute_script(signal) > 0
    dash_duo.find_element(f"#{ids.AGENT_PERFORMANCE_SCOPE} input[value='all']")
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_PERFORMANCE}", "100%")
    assert dash_duo.get_logs() == []


def test_event_settings_are_saved_and_bad_ones_explained(served: Any, runtime: Runtime) -> None:
    dash_duo = served
    open_page(dash_duo, runtime)
    dash_duo.find_element(f"#{ids.SETTINGS_PANEL} summary").click()
    cap = dash_duo.find_element(f"#{ids.SETTINGS_HOURLY_CAP}")
    cap.clear()
    cap.send_keys("12")
    sensitivity = dash_duo.find_element("input[id*='sensitivity']")
    sensitivity.clear()
    sensitivity.send_keys("1.5")
    dash_duo.select_dcc_dropdown(f"#{ids.SETTINGS_MODE}", "AUTO: acts alone within the guards")
    dash_duo.find_element(f"#{ids.SETTINGS_SAVE}").click()
    dash_duo.wait_for_contains_text(f"#{ids.SETTINGS_MESSAGE}", "Saved for event evt-1")
    saved = runtime.desk.settings.for_event("evt-1")
    assert saved.mode is AgentMode.AUTO and saved.hourly_cap == 12
    assert EventSettingsStore(runtime.engine).overrides("evt-1") == {"sensitivity": 1.5}

    minimum = dash_duo.find_element(f"#{ids.SETTINGS_MIN_CONFIDENCE}")
    minimum.clear()
    minimum.send_keys("0.9")
    dash_duo.find_element(f"#{ids.SETTINGS_SAVE}").click()
    dash_duo.wait_for_contains_text(
        f"#{ids.SETTINGS_MESSAGE}", "min_confidence must not be above approve_threshold"
    )
    assert runtime.desk.settings.for_event("evt-1").min_confidence == 0.5
    assert dash_duo.get_logs() == []


def test_saving_the_events_mode_shows_in_the_agent_box_at_once(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    runtime.desk.settings.update("evt-1", {"mode": "SEMI_AUTO"})
    open_page(dash_duo, runtime)
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MODE_NOTE}", "SEMI_AUTO (the event's mode)")
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MODE}", "Event's mode (SEMI_AUTO)")
    dash_duo.find_element(f"#{ids.SETTINGS_PANEL} summary").click()
    dash_duo.select_dcc_dropdown(f"#{ids.SETTINGS_MODE}", "MANUAL: suggests; a producer approves")
    dash_duo.find_element(f"#{ids.SETTINGS_SAVE}").click()
    dash_duo.wait_for_contains_text(f"#{ids.SETTINGS_MESSAGE}", "agent MANUAL")
    # Regression: the box kept "Event's mode (SEMI_AUTO)" until a reload.
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MODE_NOTE}", "MANUAL (the event's mode)")
    dash_duo.wait_for_contains_text(f"#{ids.AGENT_MODE}", "Event's mode (MANUAL)")
    assert runtime.desk.settings.for_event("evt-1").mode is AgentMode.MANUAL
    assert dash_duo.get_logs() == []
