"""Per-event detector thresholds: validated, stored, and taken on by running detectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from app.cli import main
from services.contracts import LIVE_SYNC_STREAM, SignalEvent, SignalKind
from services.database import create_db_engine, ensure_schema
from services.event_settings import EventSettingsError, EventSettingsStore, validate_overrides
from services.session_book import Lifetimes, SessionBook
from services.settings import ScoreWeights
from services.windows import WindowConfig
from tests.conftest import RunCollector
from tests.waiting import wait_until

T0 = 1_800_000_000.0


def test_valid_overrides_are_typed() -> None:
    assert validate_overrides({"sensitivity": "1.5", "mass_exit_min_users": "5"}) == {
        "sensitivity": 1.5,
        "mass_exit_min_users": 5,
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"warmup_ticks": 3}, "warmup_ticks: not a tunable setting"),
        ({"sensitivity": "loud"}, "sensitivity: 'loud' is not a number"),
        ({"sensitivity": 50}, "sensitivity: from 0.1"),
        ({"cooldown_seconds": float("nan")}, "cooldown_seconds: must be a finite number"),
        ({"cooldown_seconds": -1}, "cooldown_seconds: must be a finite number"),
        ({"drop_ratio": 1.5}, "drop_ratio: a share"),
        ({"mass_exit_min_audience": 0}, "mass_exit_min_audience: a number of people"),
        ({"low_seconds": True}, "low_seconds: must be a finite number"),
    ],
)
def test_invalid_overrides_are_refused_naming_the_setting(raw: dict, message: str) -> None:
    with pytest.raises(EventSettingsError, match=message):
        validate_overrides(raw)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_overrides_are_stored_merged_and_reset(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'ec.sqlite3'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = create_db_engine(url)
    ensure_schema(engine)
    store = EventSettingsStore(engine)
    assert store.overrides("evt") == {}
    store.update("evt", {"sensitivity": 2})
    assert store.update("evt", {"cooldown_seconds": 60}) == {
        "sensitivity": 2.0,
        "cooldown_seconds": 60.0,
    }
    with pytest.raises(EventSettingsError):
        store.update("evt", {"sensitivity": 0})
    assert store.overrides("evt")["sensitivity"] == 2.0  # a refused change changes nothing
    assert store.update("evt", {"low_score": 0.2}, reset=True) == {"low_score": 0.2}
    assert store.all_overrides() == {"evt": {"low_score": 0.2}}
    engine.dispose()


def test_running_detectors_take_on_their_events_thresholds() -> None:
    book = SessionBook(WindowConfig(tick_seconds=5), ScoreWeights(), Lifetimes())
    book.apply(SignalEvent(SignalKind.JOIN, "s-known", "evt-a", "u1"), T0)
    book.apply(SignalEvent(SignalKind.JOIN, "s-later", None, "u1"), T0)
    book.score_tick(T0 + 5)
    assert book.detectors["s-known"].settings.sensitivity == 1.0

    book.set_event_overrides({"evt-a": {"sensitivity": 3.0, "cooldown_seconds": 30.0}})
    book.score_tick(T0 + 10)
    retuned = book.detectors["s-known"].settings
    assert (retuned.sensitivity, retuned.cooldown_seconds) == (3.0, 30.0)
    assert retuned.tick_seconds == 5  # the deployment's tick is kept
    assert book.detectors["s-later"].settings.sensitivity == 1.0

    # A session whose event becomes known later gets that event's thresholds.
    book.apply(SignalEvent(SignalKind.CHAT, "s-later", "evt-a", "u1"), T0 + 11)
    book.score_tick(T0 + 15)
    assert book.detectors["s-later"].settings.sensitivity == 3.0


def test_the_cli_change_reaches_a_running_collector(
    run_collector: RunCollector, redis_client: redis.Redis
) -> None:
    collector = run_collector()
    collector.event_settings_every = 0.5
    settings = collector.settings
    wait_until(lambda: collector.is_leader, what="leadership")
    redis_client.xadd(
        collector.names.stream(LIVE_SYNC_STREAM),
        {
            "data": json.dumps(
                {"type": "user_join", "sessionId": "s1", "eventId": "evt-9", "userId": "u1"}
            )
        },
    )
    wait_until(lambda: "s1" in collector.book.detectors, what="the session's detector")
    result = CliRunner().invoke(
        main,
        ["detector-settings", "evt-9", "--set", "sensitivity=2.5", "--set", "low_score=0.15"],
        env={"DATABASE_URL": settings.database_url},
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["overrides"] == {"sensitivity": 2.5, "low_score": 0.15}
    assert shown["settings"]["cooldown_seconds"] == 90.0  # a default, shown for reference
    wait_until(
        lambda: collector.book.detectors["s1"].settings.sensitivity == 2.5,
        what="the running detector to take the new sensitivity",
    )
    refused = CliRunner().invoke(
        main,
        ["detector-settings", "evt-9", "--set", "loudness=11"],
        env={"DATABASE_URL": settings.database_url},
    )
    assert refused.exit_code != 0
    assert "loudness: not a tunable setting" in refused.output
