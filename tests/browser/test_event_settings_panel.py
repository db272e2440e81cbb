"""The event's settings form in a real browser: a value a setting cannot take, or settings that
contradict each other, are refused naming the field, and nothing is saved; allowing no
intervention type saves with a warning, and the agent box's launch picker follows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.runtime import Runtime
from components import ids
from services.detection.event_settings import EventSettingsStore
from services.storage.agent_settings import DEFAULTS
from tests.browser.support import T0, open_live, seed_session, stamps_from, wait_until

pytestmark = pytest.mark.browser

SID = "sess-settings"

LAUNCH_DISABLED_JS = f"""
return window.dash_component_api.getLayout({ids.AGENT_LAUNCH_TYPE!r}).props.options
    .map(function (option) {{ return option.disabled; }});
"""


def open_settings(dash_duo: Any, runtime: Runtime) -> None:
    seed_session(runtime, SID, stamps=stamps_from(T0, 3))
    open_live(dash_duo, SID)
    dash_duo.find_element(f"#{ids.SETTINGS_PANEL} summary").click()


def type_into(dash_duo: Any, selector: str, text: str) -> None:
    field = dash_duo.find_element(selector)
    field.clear()
    field.send_keys(text)


def save_and_wait(dash_duo: Any, text: str) -> None:
    dash_duo.find_element(f"#{ids.SETTINGS_SAVE}").click()
    dash_duo.wait_for_contains_text(f"#{ids.SETTINGS_MESSAGE}", text)


def test_a_value_the_setting_cannot_take_is_refused_naming_the_field(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    open_settings(dash_duo, runtime)
    detector = EventSettingsStore(runtime.engine)
    type_into(dash_duo, f"#{ids.SETTINGS_HOURLY_CAP}", "12")
    # Regression: the browser emptied 2.5 in a whole-number field, and empty meant "default".
    type_into(dash_duo, "input[id*='mass_exit_min_users']", "2.5")
    save_and_wait(
        dash_duo, "“Mass exit: fewest people leaving”: a whole number is required, got '2.5'"
    )
    assert "Saved" not in dash_duo.find_element(f"#{ids.SETTINGS_MESSAGE}").text
    assert runtime.desk.settings.for_event("evt-1") == DEFAULTS
    assert detector.overrides("evt-1") == {}

    type_into(dash_duo, "input[id*='mass_exit_min_users']", "2")
    type_into(dash_duo, "input[id*='recover_ratio']", "0.1")
    save_and_wait(
        dash_duo,
        "“Recovered at this share of usual activity”: must be above “Gradual decline: activity "
        "at most this share” (0.62)",
    )
    assert runtime.desk.settings.for_event("evt-1") == DEFAULTS
    assert detector.overrides("evt-1") == {}

    type_into(dash_duo, "input[id*='recover_ratio']", "0.75")
    save_and_wait(dash_duo, "2 detector threshold(s) differ from the defaults")
    assert detector.overrides("evt-1") == {"mass_exit_min_users": 2, "recover_ratio": 0.75}
    assert runtime.desk.settings.for_event("evt-1").hourly_cap == 12
    assert dash_duo.get_logs() == []


def test_allowing_no_type_saves_with_a_warning_and_the_launch_picker_follows(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    open_settings(dash_duo, runtime)
    assert dash_duo.driver.execute_script(LAUNCH_DISABLED_JS) == [False] * 4
    for box in dash_duo.find_elements(f"#{ids.SETTINGS_TYPES} input[type='checkbox']"):
        box.click()
    save_and_wait(dash_duo, "Saved for event evt-1")
    dash_duo.wait_for_contains_text(
        f"#{ids.SETTINGS_MESSAGE}", "Warning: no intervention type is allowed"
    )
    assert (
        "the agent will suggest nothing" in dash_duo.find_element(f"#{ids.SETTINGS_MESSAGE}").text
    )
    assert runtime.desk.settings.for_event("evt-1").allowed_types == ()
    wait_until(
        dash_duo,
        lambda: dash_duo.driver.execute_script(LAUNCH_DISABLED_JS) == [True] * 4,
        "every type disabled in the launch picker",
    )
    assert dash_duo.get_logs() == []


def test_alert_recipients_are_saved_from_the_form_and_failures_are_listed(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    runtime.redis.lpush(
        runtime.names.alert_dead("evt-1"),
        json.dumps(
            {
                "at": "2026-12-03T09:00:00+00:00",
                "channel": "webhook",
                "to": "https://hooks.example/ec",
                "subject": "DataConf: 2 alerts",
                "attempts": 5,
                "reason": "HTTP 500",
            }
        ),
    )
    open_settings(dash_duo, runtime)
    dash_duo.wait_for_contains_text(
        f"#{ids.SETTINGS_ALERT_DEAD}",
        "2026-12-03 09:00:00 UTC · webhook to https://hooks.example/ec · DataConf: 2 alerts · "
        "HTTP 500 after 5 attempt(s)",
    )
    type_into(dash_duo, f"#{ids.SETTINGS_ALERT_EMAILS}", "ops@example.com, nobody")
    save_and_wait(dash_duo, "Not saved: emails: 'nobody' is not an e-mail address")
    assert runtime.stores.alerts.for_event("evt-1").emails == ()
    assert runtime.desk.settings.for_event("evt-1") == DEFAULTS  # nothing else saved either
    type_into(dash_duo, f"#{ids.SETTINGS_ALERT_EMAILS}", "ops@example.com, stage@example.com")
    dash_duo.find_element(f"#{ids.SETTINGS_ALERT_KINDS} input[value='outcome_measured']").click()
    save_and_wait(dash_duo, "Saved for event evt-1")
    saved = runtime.stores.alerts.for_event("evt-1")
    assert saved.emails == ("ops@example.com", "stage@example.com")
    assert [kind.value for kind in saved.kinds] == [
        "anomaly_critical",
        "suggestion_waiting",
        "outcome_measured",
    ]
    assert dash_duo.get_logs() == []
