"""One schema on SQLite, PostgreSQL and (where present) TimescaleDB: created idempotently,
ticks upserted in batches, the catalogue kept, the chart window read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.storage.analyst_requests import SessionFilter
from services.storage.database import create_db_engine
from services.storage.metrics_store import ENDED, LIVE, MetricsStore
from services.storage.migrate import (
    SchemaError,
    check_schema,
    current_revision,
    head_revision,
    upgrade_schema,
)
from services.storage.schema import anomalies, engagement_metrics, metadata, schema_version
from services.storage.session_queries import SessionQueries
from tests.legacy_schema import create_v7_tables

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def metric_row(session: str, at: datetime, score: float, event: str | None = "evt") -> dict:
    return {
        "time": at,
        "session_id": session,
        "event_id": event,
        "engagement_score": score,
        "chat_msgs_per_min": 3.0,
        "poll_participation": 0.5,
        "active_users": 4,
        "reactions_per_min": 1.0,
        "user_leave_rate": 0.0,
        "extra": {"total_users": 10, "category": "MODERATE"},
    }


def catalogue_row(session: str, at: datetime, status: str = LIVE, **extra: Any) -> dict:
    return {
        "session_id": session,
        "event_id": "evt",
        "first_seen": at,
        "last_seen": at,
        "ended_at": None,
        "status": status,
        "last_score": 0.5,
        "present_users": 10,
    } | extra


def test_schema_is_created_idempotently_at_the_newest_revision(engine: sa.Engine) -> None:
    first = upgrade_schema(engine)
    second = upgrade_schema(engine)
    assert first == second
    assert first.revision == head_revision()
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {
        "engagement_metrics",
        "sessions",
        "interventions",
        "agent_performance",
        "schema_version",
    } <= tables


def test_database_sessions_have_timeouts(pg_url: str) -> None:
    """Review: PostgreSQL sessions had no statement or lock timeout, so a hung statement could
    freeze the tick loop."""
    engine = create_db_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "15s"
        assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "5s"
    engine.dispose()


def test_rewriting_a_tick_replaces_it_and_points_come_back_oldest_first(
    engine: sa.Engine,
) -> None:
    upgrade_schema(engine)
    store = MetricsStore(engine)
    ticks = [T0 + timedelta(seconds=5 * i) for i in range(70)]
    store.write_batch(
        [metric_row("s1", t, i / 100) for i, t in enumerate(ticks)],
        [catalogue_row("s1", ticks[-1])],
    )
    store.write_batch([metric_row("s1", ticks[-1], 0.99)], [])  # the same tick again
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(engagement_metrics)).scalar()
    assert count == 70
    points = store.recent_points("s1", 60)
    assert [p.time for p in points] == ticks[10:]
    assert points[-1].score == 0.99
    assert points[0].time.tzinfo is not None
    assert points[0].signals["total_users"] == 10
    assert points[0].as_json()["timestamp"] == ticks[10].isoformat()


def test_catalogue_keeps_first_seen_and_follows_status(engine: sa.Engine) -> None:
    upgrade_schema(engine)
    store = MetricsStore(engine)
    store.write_batch([], [catalogue_row("s1", T0), catalogue_row("s2", T0)])
    later = T0 + timedelta(minutes=5)
    store.write_batch(
        [],
        [catalogue_row("s1", later, status=ENDED, ended_at=later, event_id=None, last_score=None)],
    )
    s1 = store.get_session("s1")
    assert s1 is not None
    assert (s1.first_seen, s1.last_seen, s1.status) == (T0, later, ENDED)
    assert (s1.event_id, s1.last_score) == ("evt", 0.5)  # unknown values don't erase known ones
    assert [s.session_id for s in store.list_sessions()] == ["s2"]
    assert store.list_events() == [("evt", 1, None)]
    assert store.get_session("nope") is None


def test_titles_are_kept_until_a_newer_one_comes_and_found_by_search(engine: sa.Engine) -> None:
    upgrade_schema(engine)
    store = MetricsStore(engine)
    titled = catalogue_row("s1", T0, title="Opening Keynote", event_title="LiveCon 2026")
    store.write_batch([], [titled])
    # A tick that saw no title (most do) keeps the known ones.
    store.write_batch([], [catalogue_row("s1", T0 + timedelta(seconds=5), title=None)])
    s1 = store.get_session("s1")
    assert s1 is not None and (s1.title, s1.event_title) == ("Opening Keynote", "LiveCon 2026")
    store.write_batch([], [catalogue_row("s1", T0 + timedelta(seconds=10), title="Keynote")])
    assert store.get_session("s1").title == "Keynote"
    queries = SessionQueries(engine)
    found = queries.sessions(SessionFilter(q="livecon"))["items"]
    assert [row["session_id"] for row in found] == ["s1"]
    assert (found[0]["title"], found[0]["event_title"]) == ("Keynote", "LiveCon 2026")
    assert queries.sessions(SessionFilter(q="keyn"))["items"][0]["session_id"] == "s1"


def _episode(session: str, at: datetime, episode: str, ended: datetime | None = None) -> dict:
    return {
        "time": at,
        "episode_id": episode,
        "session_id": session,
        "event_id": "evt",
        "type": "SUDDEN_DROP",
        "severity": "WARNING",
        "anomaly_score": 0.9,
        "current_engagement": 0.2,
        "expected_engagement": 0.6,
        "deviation": -0.4,
        "signals": {},
        "explanation": "drop",
        "ended_at": ended,
        "recovered": None if ended is None else True,
        "recovery_seconds": None,
    }


def test_abandoned_sessions_end_with_their_open_episodes_and_nothing_else(
    engine: sa.Engine,
) -> None:
    upgrade_schema(engine)
    store = MetricsStore(engine)
    later = T0 + timedelta(minutes=30)
    store.write_batch(
        [],
        [catalogue_row("gone", T0), catalogue_row("alive", later)],
        [
            _episode("gone", T0 - timedelta(minutes=1), "gone-open"),
            _episode(
                "gone", T0 - timedelta(minutes=9), "gone-done", ended=T0 - timedelta(minutes=8)
            ),
            _episode("alive", later, "alive-open"),
        ],
    )
    assert store.end_abandoned_sessions(T0 + timedelta(minutes=10)) == 1
    assert store.get_session("gone").status == ENDED
    assert store.get_session("alive").status == LIVE
    with engine.connect() as conn:
        rows = {r.episode_id: r for r in conn.execute(sa.select(anomalies))}
    assert (rows["gone-open"].ended_at, rows["gone-open"].recovered) == (T0, False)
    assert rows["gone-done"].recovered is True  # ended before: untouched
    assert rows["alive-open"].ended_at is None


@pytest.mark.timescale
def test_timescaledb_gets_hypertables_and_the_same_behaviour(timescale_url: str) -> None:
    engine = create_db_engine(timescale_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        assert upgrade_schema(engine).backend == "timescaledb"
        assert upgrade_schema(engine).backend == "timescaledb"  # idempotent
        with engine.connect() as conn:
            hypertables = set(
                conn.execute(
                    sa.text("SELECT hypertable_name FROM timescaledb_information.hypertables")
                ).scalars()
            )
        assert hypertables == {
            "engagement_metrics",
            "anomalies",
            "interventions",
            "agent_performance",
        }
        store = MetricsStore(engine)
        rows = [metric_row("s1", T0 + timedelta(days=d), 0.1 * d) for d in range(3)]
        store.write_batch(rows, [catalogue_row("s1", T0)])
        store.write_batch(rows[-1:], [])
        assert [p.score for p in store.recent_points("s1", 60)] == pytest.approx([0, 0.1, 0.2])
        with engine.connect() as conn:
            chunks = conn.execute(
                sa.text(
                    "SELECT count(*) FROM timescaledb_information.chunks "
                    "WHERE hypertable_name = 'engagement_metrics'"
                )
            ).scalar()
        assert chunks == 3  # one-day chunks
    finally:
        engine.dispose()


def test_a_batch_repeating_a_tick_keeps_its_last_row(engine: sa.Engine) -> None:
    upgrade_schema(engine)
    store = MetricsStore(engine)
    store.write_batch(
        [metric_row("s1", T0, 0.1), metric_row("s1", T0, 0.2)],
        [catalogue_row("s1", T0), catalogue_row("s1", T0, last_score=0.7)],
    )
    assert [p.score for p in store.recent_points("s1", 60)] == [0.2]
    session = store.get_session("s1")
    assert session is not None and session.last_score == 0.7


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_database_made_before_migrations_is_adopted_and_keeps_its_rows(
    backend: str, pg_url: str, tmp_path: Path
) -> None:
    """#16: what the releases before migrations made (every table, `schema_version` 7) is
    stamped at the baseline and upgraded in place, rows and all."""
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'v7.sqlite3'}"
    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            create_v7_tables(conn)
            conn.execute(schema_version.insert().values(version=7, applied_at=T0))
        MetricsStore(engine).write_batch([metric_row("s1", T0, 0.4)], [catalogue_row("s1", T0)])
        with pytest.raises(SchemaError, match="made before migrations"):
            check_schema(engine)
        assert upgrade_schema(engine).revision == head_revision()
        assert check_schema(engine).revision == head_revision()
        assert [p.score for p in MetricsStore(engine).recent_points("s1", 60)] == [0.4]
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_database_no_release_can_upgrade_is_refused_and_left_alone(
    backend: str, pg_url: str, tmp_path: Path
) -> None:
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'v2.sqlite3'}"
    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE sessions (session_id VARCHAR(255) PRIMARY KEY)"))
        with pytest.raises(SchemaError, match="neither a migration revision nor a schema version"):
            upgrade_schema(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(schema_version.insert().values(version=5, applied_at=T0))
        with pytest.raises(SchemaError, match="only version 7 is adopted"):
            upgrade_schema(engine)
        with engine.connect() as conn:
            assert current_revision(conn) is None  # nothing was stamped
    finally:
        engine.dispose()
