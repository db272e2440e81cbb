"""The one guard in front of every session a browser names: the role first, then the id, the
session and its event; a panel's pass stands in for the producer's role and event."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from app.runtime import Runtime
from services.access.guard import (
    Denial,
    Refusal,
    RefusalTexts,
    may_open_event_tile,
    producer_session,
)
from services.access.principal import OPEN_ACCESS, Principal
from services.access.tokens import EmbedResource, Role
from services.core.settings import Settings
from services.storage.metrics_store import SessionRecord
from tests.browser.support import T0, seed_session, stamps_from, two_event_runtime

TEXTS = RefusalTexts(
    not_producer="producers only",
    invalid_id="bad id",
    unknown_session="unknown",
    other_event="not yours",
)
PRODUCER = Principal(Role.PRODUCER, frozenset({"evt-1"}), "p")
ANALYST = Principal(Role.ANALYST, frozenset({"evt-1"}), "a")
LIVE_S1 = EmbedResource.parse("live/s-1")
EMBED = Principal(Role.EMBED, frozenset(), "embed live/s-1", frozenset({LIVE_S1}))


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    yield from two_event_runtime(make_settings())


def outcome(
    runtime: Runtime, who: Principal, session_id: str, panel: EmbedResource | None = None
) -> str:
    found = producer_session(runtime.store, who, session_id, TEXTS, panel)
    if isinstance(found, Refusal):
        return found.message
    assert isinstance(found, SessionRecord) and found.session_id == session_id
    return "allowed"


def test_a_producer_acts_on_sessions_of_its_events_only(runtime: Runtime) -> None:
    assert outcome(runtime, PRODUCER, "s-1") == "allowed"
    assert outcome(runtime, PRODUCER, "s-2") == "not yours"
    assert outcome(runtime, PRODUCER, "nope") == "unknown"
    assert outcome(runtime, PRODUCER, " x") == "bad id"
    assert outcome(runtime, PRODUCER, "") == "bad id"


def test_other_roles_are_refused_before_anything_is_looked_up(runtime: Runtime) -> None:
    for session_id in ("s-1", "s-2", "nope", " x"):
        assert outcome(runtime, ANALYST, session_id) == "producers only", session_id
        assert outcome(runtime, EMBED, session_id) == "producers only", session_id


def test_a_panel_pass_opens_its_session_in_that_panel_only(runtime: Runtime) -> None:
    assert outcome(runtime, EMBED, "s-1", LIVE_S1) == "allowed"
    anomalies = EmbedResource.parse("anomalies/s-1")
    assert outcome(runtime, EMBED, "s-1", anomalies) == "producers only"
    # A product sign-in holding a pass: the pass opens its panel whatever the sign-in's events.
    analyst_with_pass = Principal(Role.ANALYST, frozenset({"evt-9"}), "a", frozenset({LIVE_S1}))
    assert outcome(runtime, analyst_with_pass, "s-1", LIVE_S1) == "allowed"
    # A producer previews any panel of its own events, and no other.
    assert outcome(runtime, PRODUCER, "s-1", anomalies) == "allowed"
    assert outcome(runtime, PRODUCER, "s-2", EmbedResource.parse("live/s-2")) == "not yours"


def test_open_access_sees_every_session_even_without_an_event(runtime: Runtime) -> None:
    seed_session(runtime, "loose", None, stamps=stamps_from(T0, 1))
    for session_id in ("s-1", "s-2", "loose"):
        assert outcome(runtime, OPEN_ACCESS, session_id) == "allowed"
    assert outcome(runtime, PRODUCER, "loose") == "not yours"


def test_refusals_name_their_reason() -> None:
    refusal = RefusalTexts.one("no").refuse(Denial.UNKNOWN_SESSION)
    assert refusal == Refusal(Denial.UNKNOWN_SESSION, "no")
    assert TEXTS.refuse(Denial.INVALID_ID).message == "bad id"


def test_event_tiles() -> None:
    tile = EmbedResource.parse("event/evt-1")
    assert may_open_event_tile(PRODUCER, tile)
    assert not may_open_event_tile(PRODUCER, EmbedResource.parse("event/evt-2"))
    assert not may_open_event_tile(ANALYST, tile)
    assert may_open_event_tile(Principal(Role.EMBED, frozenset(), "e", frozenset({tile})), tile)
    assert not may_open_event_tile(EMBED, tile)
    assert not may_open_event_tile(PRODUCER, LIVE_S1)  # not a tile at all
