"""The TimescaleDB path: continuous aggregates give the same buckets as the raw rows (before and
after they are materialised), storage policies follow the settings, and writes still land in
compressed chunks. Skipped, with the reason, where no TimescaleDB server is reachable
(EC_TEST_TIMESCALE_ADMIN)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.core.settings import StoragePolicy
from services.storage.analyst_requests import SeriesRequest
from services.storage.database import create_db_engine, failed_policy_jobs
from services.storage.metrics_store import MetricsStore
from services.storage.migrate import head_revision, upgrade_schema
from services.storage.policy import AGGREGATES, create_aggregates
from services.storage.schema import HYPERTABLES, schema_version
from services.storage.score_series import ScoreSeries
from tests.legacy_schema import create_v7_tables
from tests.test_storage import catalogue_row, metric_row
from tests.waiting import wait_until

pytestmark = pytest.mark.timescale

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ts_engine(timescale_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(timescale_url.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()


def seed(engine: sa.Engine) -> None:
    """Three hours of ticks with varied scores and signals, for two sessions."""
    store = MetricsStore(engine)
    for sid in ("s-1", "s-2"):
        rows = []
        for i in range(3 * 720):
            row = metric_row(sid, T0 + timedelta(seconds=5 * i), round((i * 7919 % 1000) / 1000, 3))
            row["chat_msgs_per_min"] = float(i % 13)
            row["active_users"] = i % 40
            rows.append(row)
        store.write_batch(rows, [catalogue_row(sid, T0)])


def refresh(engine: sa.Engine) -> None:
    # Not allowed inside a transaction block.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for view in ("engagement_1m", "engagement_1h"):
            conn.execute(sa.text("CALL refresh_continuous_aggregate(:v, NULL, NULL)"), {"v": view})


def both(engine: sa.Engine, bucket: str, **span: Any) -> tuple[list[dict], list[dict]]:
    request = SeriesRequest.model_validate({"bucket": bucket} | span)
    plain = ScoreSeries(engine, aggregates=False).series("s-1", request)
    aggregated = ScoreSeries(engine, aggregates=True).series("s-1", request)
    return plain, aggregated


def same(plain: list[dict], aggregated: list[dict]) -> None:
    assert [p["time"] for p in aggregated] == [p["time"] for p in plain]
    assert [p["ticks"] for p in aggregated] == [p["ticks"] for p in plain]
    for key in ("score", "chat_msgs_per_min", "active_users", "user_leave_rate"):
        assert [p[key] for p in aggregated] == pytest.approx([p[key] for p in plain]), key


def test_aggregates_give_the_raw_buckets_real_time_and_materialised(ts_engine: sa.Engine) -> None:
    assert upgrade_schema(ts_engine).has_aggregates
    seed(ts_engine)
    span = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=3)).isoformat()}
    for materialised in (False, True):
        if materialised:
            refresh(ts_engine)
        for bucket, count in (("1m", 180), ("5m", 36), ("1h", 3)):
            plain, aggregated = both(ts_engine, bucket, **span)
            assert len(plain) == count
            same(plain, aggregated)
    # Review: a range starting and ending inside buckets gave other buckets from the
    # aggregates than from the raw rows, and 5-min ticks came back as numeric strings.
    odd = {
        "from": (T0 + timedelta(minutes=3, seconds=30)).isoformat(),
        "to": (T0 + timedelta(hours=1, minutes=17, seconds=30)).isoformat(),
    }
    for bucket in ("1m", "5m", "1h"):
        plain, aggregated = both(ts_engine, bucket, **odd)
        same(plain, aggregated)
        assert all(isinstance(p["ticks"], int) for p in aggregated)
    # Rows written after the refresh show at once (real-time aggregation), and late rows into a
    # materialised bucket are picked up once the refresh runs again.
    MetricsStore(ts_engine).write_batch(
        [metric_row("s-1", T0 + timedelta(hours=3, seconds=5), 0.9)], []
    )
    late = metric_row("s-1", T0 + timedelta(seconds=2), 0.0)
    MetricsStore(ts_engine).write_batch([late], [])
    refresh(ts_engine)
    wider = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=4)).isoformat()}
    plain, aggregated = both(ts_engine, "1m", **wider)
    same(plain, aggregated)
    assert aggregated[0]["ticks"] == 13 and aggregated[-1]["score"] == pytest.approx(0.9)


def jobs(engine: sa.Engine) -> dict[tuple[str, str], dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs "
                "WHERE proc_name LIKE 'policy_%' AND hypertable_name IS NOT NULL"
            )
        ).all()
        views = dict(
            conn.execute(
                sa.text(
                    "SELECT materialization_hypertable_name, view_name "
                    "FROM timescaledb_information.continuous_aggregates"
                )
            ).all()
        )
    return {(proc, views.get(table, table)): config for proc, table, config in found}


def test_storage_policies_follow_the_settings(ts_engine: sa.Engine) -> None:
    upgrade_schema(ts_engine, StoragePolicy(30, 365, 3))
    found = jobs(ts_engine)
    assert found[("policy_retention", "engagement_metrics")]["drop_after"] == "30 days"
    assert found[("policy_retention", "engagement_1m")]["drop_after"] == "365 days"
    assert found[("policy_retention", "engagement_1h")]["drop_after"] == "365 days"
    assert found[("policy_compression", "engagement_metrics")]["compress_after"] == "3 days"
    refreshes = {view for proc, view in found if proc == "policy_refresh_continuous_aggregate"}
    assert refreshes == {"engagement_1m", "engagement_1h"}
    with ts_engine.connect() as conn:
        realtime = conn.execute(
            sa.text(
                "SELECT view_name, materialized_only "
                "FROM timescaledb_information.continuous_aggregates"
            )
        ).all()
    assert dict(realtime) == {"engagement_1m": False, "engagement_1h": False}
    # Changed settings replace the policies at the next start; 0 removes them.
    upgrade_schema(ts_engine, StoragePolicy(0, 0, 0))
    assert {proc for proc, _ in jobs(ts_engine)} == {"policy_refresh_continuous_aggregate"}


def test_writes_land_in_compressed_chunks(ts_engine: sa.Engine) -> None:
    upgrade_schema(ts_engine, StoragePolicy(compress_after_days=1))
    seed(ts_engine)
    with ts_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        compressed = conn.execute(
            sa.text("SELECT count(compress_chunk(c)) FROM show_chunks('engagement_metrics') c")
        ).scalar()
    assert compressed and compressed >= 1
    store = MetricsStore(ts_engine)
    rewritten = metric_row("s-1", T0, 0.5)
    store.write_batch([rewritten, metric_row("s-1", T0 - timedelta(seconds=5), 0.25)], [])
    request = SeriesRequest.model_validate(
        {
            "bucket": "raw",
            "from": (T0 - timedelta(minutes=1)).isoformat(),
            "to": (T0 + timedelta(seconds=10)).isoformat(),
        }
    )
    points = ScoreSeries(ts_engine, aggregates=True).series("s-1", request)
    assert [p["score"] for p in points] == pytest.approx([0.25, 0.5, 0.919])


def test_failed_policy_jobs_names_ours_and_never_timescales_own(ts_engine: sa.Engine) -> None:
    """#15: /health turns degraded on a failed refresh, compression or retention job of ours;
    TimescaleDB's own jobs (telemetry, which fails without a network, and its job-history
    cleanup) are not ours to report."""
    upgrade_schema(ts_engine, StoragePolicy(30, 365, 3))
    ours = ("policy_refresh_continuous_aggregate", "policy_compression", "policy_retention")
    query = sa.text(
        "SELECT j.job_id, j.proc_name, j.application_name, j.hypertable_name, "
        "s.last_run_status FROM timescaledb_information.jobs j "
        "JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id ORDER BY j.job_id"
    )

    def stats() -> list[sa.Row[Any]] | None:
        with ts_engine.connect() as conn:
            rows = conn.execute(query).all()
        # Every job of ours has run once (they start as soon as they are made).
        ran = [row for row in rows if row.proc_name in ours and row.last_run_status]
        return rows if len(ran) == 6 else None

    rows = wait_until(stats, timeout=60, what="every policy job's first run")
    expected = [
        f"{row.application_name} on {row.hypertable_name}"
        for row in rows
        if row.proc_name in ours and row.last_run_status == "Failed"
    ]
    assert failed_policy_jobs(ts_engine) == expected
    assert all(row.hypertable_name is None for row in rows if row.proc_name not in ours)


def test_a_timescale_database_made_before_migrations_is_adopted_with_its_rows(
    ts_engine: sa.Engine,
) -> None:
    """#16: hypertables and aggregates made by the releases before migrations pass through
    revision 0002 unharmed, rows and all."""
    with ts_engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
        create_v7_tables(conn)
        for table in HYPERTABLES:
            conn.execute(
                sa.text("SELECT create_hypertable(:t, by_range('time', INTERVAL '1 day'))"),
                {"t": table},
            )
        create_aggregates(conn)
        conn.execute(schema_version.insert().values(version=7, applied_at=T0))
    seed(ts_engine)
    before = MetricsStore(ts_engine).recent_points("s-1", 60)
    info = upgrade_schema(ts_engine)
    assert (info.backend, info.revision) == ("timescaledb", head_revision())
    assert before and MetricsStore(ts_engine).recent_points("s-1", 60) == before
    with ts_engine.connect() as conn:
        views = conn.execute(
            sa.text("SELECT view_name FROM timescaledb_information.continuous_aggregates")
        ).scalars()
        assert sorted(views) == sorted(AGGREGATES)
