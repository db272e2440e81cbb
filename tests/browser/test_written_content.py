"""The language-model writer as a producer meets it, in a real browser against a local server
that speaks the Messages API: the suggestion appears with the template's words and takes the
model's, saying who wrote them; the event's settings show the tokens spent against the budget
and turn the writer off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.runtime import Runtime
from components import ids
from services.agent.desk import SessionContext
from services.core.settings import Settings
from tests.browser.support import open_live, seed_session, stamps_from, started_runtime
from tests.messages_api import GOOD_ANSWERS, MessagesApi

pytestmark = pytest.mark.browser

SID = "sess-written"
ROOM = SessionContext(
    SID,
    "evt-1",
    engagement=0.3,
    present_users=120,
    chat_per_min=4.0,
    title="Query planners in practice",
    chat=("is the hash join always faster?",),
)


@pytest.fixture
def api() -> Iterator[MessagesApi]:
    server = MessagesApi(latency_seconds=1.0).start()
    yield server
    server.stop()


@pytest.fixture
def runtime(make_settings: Callable[..., Settings], api: MessagesApi) -> Iterator[Runtime]:
    settings = make_settings(
        tick_seconds=1,
        anthropic_api_key="test-key",
        anthropic_base_url=api.url,
        content_model="big-model",
    )
    yield from started_runtime(settings, with_collector=False)


def test_the_card_takes_the_models_words_and_the_settings_show_the_spend(
    served: Any, runtime: Runtime, api: MessagesApi
) -> None:
    dash_duo = served
    now = datetime.now(UTC).replace(microsecond=0)
    seed_session(runtime, SID, stamps=stamps_from(now - timedelta(seconds=400), 20))
    runtime.desk.settings.update("evt-1", {"allowed_types": ["POLL"]})
    open_live(dash_duo, SID)
    record = runtime.desk.propose(ROOM, "SUDDEN_DROP", -0.5, "ep-1", "Chat fell to 2/min")
    assert record is not None and record.written_by == "template"
    card = f".suggestion-card[data-intervention='{record.intervention_id}']"
    dash_duo.wait_for_contains_text(card, "Template for now: the model is writing")
    dash_duo.wait_for_contains_text(card, GOOD_ANSWERS["PollAnswer"]["question"], timeout=15)
    dash_duo.wait_for_contains_text(card, "Written by big-model in 1.")
    dash_duo.wait_for_contains_text(f"#{ids.INTERVENTION_LOG}", "Written by big-model")

    spent = runtime.stores.interventions.get(record.intervention_id).tokens
    dash_duo.driver.refresh()
    open_live(dash_duo, SID)
    dash_duo.find_element(f"#{ids.SETTINGS_PANEL} summary").click()
    dash_duo.wait_for_contains_text(
        f"#{ids.SETTINGS_TOKEN_SPEND}", f"On: {spent:,} of 200,000 tokens spent"
    )
    dash_duo.find_element(f"#{ids.SETTINGS_WRITTEN} input").click()
    field = dash_duo.find_element(f"#{ids.SETTINGS_TOKEN_BUDGET}")
    field.clear()
    field.send_keys("5000")
    dash_duo.find_element(f"#{ids.SETTINGS_SAVE}").click()
    dash_duo.wait_for_contains_text(
        f"#{ids.SETTINGS_TOKEN_SPEND}", f"Off: interventions are written from templates. {spent:,}"
    )
    saved = runtime.desk.settings.for_event("evt-1")
    assert saved.written_content is False and saved.token_budget == 5000
    assert dash_duo.get_logs() == []
