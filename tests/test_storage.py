"""One schema on SQLite, PostgreSQL and (where present) TimescaleDB: created idempotently,
ticks upserted in batches, the catalogue kept, the chart window read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.storage.analyst_requests import SessionFilter
from services.storage.database import create_db_engine, ensure_schema
from services.storage.metrics_store import ENDED, LIVE, MetricsStore
from services.storage.schema import SCHEMA_VERSION, anomalies, engagement_metrics, schema_version
from services.storage.session_queries import SessionQueries

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


def test_schema_is_created_idempotently_with_its_version(engine: sa.Engine) -> None:
    first = ensure_schema(engine)
    second = ensure_schema(engine)
    assert first == second
    assert first.version == SCHEMA_VERSION
    with engine.connect() as conn:
        versions = conn.execute(sa.select(schema_version.c.version)).scalars().all()
        tables = set(sa.inspect(conn).get_table_names())
    assert versions == [SCHEMA_VERSION]
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
    ensure_schema(engine)
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
    ensure_schema(engine)
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
    ensure_schema(engine)
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
    ensure_schema(engine)
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
        assert ensure_schema(engine).backend == "timescaledb"
        assert ensure_schema(engine).backend == "timescaledb"  # idempotent
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
    ensure_schema(engine)
    store = MetricsStore(engine)
    store.write_batch(
        [metric_row("s1", T0, 0.1), metric_row("s1", T0, 0.2)],
        [catalogue_row("s1", T0), catalogue_row("s1", T0, last_score=0.7)],
    )
    assert [p.score for p in store.recent_points("s1", 60)] == [0.2]
    session = store.get_session("s1")
    assert session is not None and session.last_score == 0.7


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_schema_2_database_gains_the_agents_columns_and_indexes_in_place(
    backend: str, pg_url: str, tmp_path: Path
) -> None:
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'v2.sqlite3'}"
    engine = create_db_engine(url)
    # The interventions table as schema 2 made it, with a row in it.
    old = sa.MetaData()
    sa.Table(
        "interventions",
        old,
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intervention_id", sa.String(255), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255)),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("outcome", sa.JSON),
        sa.PrimaryKeyConstraint("intervention_id", "time", name="pk_interventions"),
    )
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO interventions (time, intervention_id, session_id, type, status,"
                " content) VALUES (:t, 'old-1', 's', 'POLL', 'executed', '{}')"
            ),
            {"t": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    ensure_schema(engine)
    inspector = sa.inspect(engine)
    columns = {c["name"] for c in inspector.get_columns("interventions")}
    assert {"episode_id", "reasoning", "expires_at", "executed_at", "measured_at"} <= columns
    indexes = {i["name"] for i in inspector.get_indexes("interventions")}
    assert {"ix_interventions_status", "ix_interventions_event_time"} <= indexes
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT intervention_id FROM interventions")).scalars().all()
    assert kept == ["old-1"]
    ensure_schema(engine)  # idempotent
    engine.dispose()
