"""The detector's vocabulary: which settings it refuses, and the signals an anomaly carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from services.detection.episodes import DetectorSettings, signals_dict
from services.ingest.windows import SessionSignals

MESSAGE = "tick_seconds must be > 0 and max_window_ticks >= drop_short_ticks"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sensitivity": 0}, "sensitivity must be > 0"),
        ({"sensitivity": float("nan")}, "sensitivity must be > 0"),
        ({"tick_seconds": 0}, MESSAGE),
        ({"tick_seconds": -5}, MESSAGE),
        ({"max_window_ticks": 3, "drop_short_ticks": 4}, MESSAGE),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError) as caught:
        DetectorSettings(**changes)
    assert str(caught.value) == reason


def test_the_narrowest_settings_that_work_are_accepted() -> None:
    settings = DetectorSettings(
        sensitivity=0.01, tick_seconds=0.5, max_window_ticks=4, drop_short_ticks=4
    )
    assert settings.max_window_ticks == settings.drop_short_ticks


def test_an_anomaly_carries_the_published_signals_rounded_as_published() -> None:
    signals = SessionSignals(
        chat_msgs_per_min=1 / 3,
        poll_participation=0.5,
        active_users=2,
        total_users=7,
        reactions_per_min=2 / 3,
        user_leave_rate=1 / 7,
        poll_active=True,
        chat_in_tick=3,
    )
    assert signals_dict(signals) == signals.as_contract()
    assert signals_dict(signals)["chat_msgs_per_min"] == 0.3333


def test_signals_without_the_contract_method_give_the_contract_fields_they_have() -> None:
    @dataclass
    class Partial:
        total_users: int
        chat_in_tick: int
        active_users: int

    assert signals_dict(Partial(12, 4, 3)) == {"active_users": 3, "total_users": 12}


def test_no_signals_give_an_empty_object() -> None:
    assert signals_dict(None) == {}
