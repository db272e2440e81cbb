"""Analyst queries over a long history: at least 5x10^7 score rows, 10,000 sessions over weeks.

    python bench/history.py --admin postgresql://postgres@127.0.0.1:5432/postgres [--keep]

Builds a database of its own with the product's schema (upgrade_schema), fills it server-side
with generate_series (10,000 sessions of ~7 h at 5-s ticks, ten of them 24 h long, spread over
five weeks; an anomaly in every tenth session, an executed poll in every twentieth), rolls up
the per-session figures the way the collector does (SessionStatsRollup), and, with TimescaleDB,
materialises the continuous aggregates. Then it times, median of 7 runs after one warm-up, side
by side with a naive version:

- one session's 24 hours at 1-minute buckets (SessionQueries.series: the 1-minute continuous
  aggregate with TimescaleDB, date_bin in SQL without) against fetching the 17,280 raw rows and
  bucketing in Python;
- the past-sessions filter over 10,000 sessions (SessionQueries.sessions: filter, count and one
  page, figures for that page only), by title and by score and anomaly type, against figures
  for every session (GROUP BY over the whole table) filtered and sorted in Python;
- a CSV export of one 24-hour session at 1-minute buckets and raw (the export's code path).

With --compress (TimescaleDB), every chunk is then compressed and the queries timed again.
Prints Markdown; the database is dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.core.settings import StoragePolicy  # noqa: E402
from services.storage.analyst_requests import SeriesRequest, SessionFilter  # noqa: E402
from services.storage.database import create_db_engine  # noqa: E402
from services.storage.migrate import upgrade_schema  # noqa: E402
from services.storage.policy import AGGREGATES  # noqa: E402
from services.storage.session_queries import SessionQueries  # noqa: E402
from services.storage.session_stats import SessionStatsRollup  # noqa: E402

DB_NAME = "ec_bench_history"
SESSIONS = 10_000
LONG_SESSIONS = 10  # 24 h each
TICKS = 5_000  # ~6.9 h at 5 s
LONG_TICKS = 17_280  # 24 h
EVENTS = 200
START = datetime(2026, 10, 1, tzinfo=UTC)
BATCH = 250


def build(url: str, sessions: int, ticks: int) -> int:
    engine = create_db_engine(url)
    # No compression policy: a background job compressing chunks mid-run would skew timings.
    timescale = upgrade_schema(engine, StoragePolicy(compress_after_days=0)).has_aggregates
    engine.dispose()
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO sessions (session_id, event_id, title, first_seen, last_seen, ended_at,
                                  status, last_score, present_users)
            SELECT 'hist-' || lpad(s::text, 5, '0'),
                   'evt-' || lpad(mod(s, %(events)s)::text, 3, '0'),
                   (ARRAY['Keynote', 'Workshop', 'Panel', 'Ask me anything'])[1 + mod(s, 4)]
                       || ' ' || s,
                   %(start)s + s * interval '5 minutes',
                   %(start)s + s * interval '5 minutes'
                       + (CASE WHEN s < %(long)s THEN %(long_ticks)s ELSE %(ticks)s END - 1)
                       * interval '5 seconds',
                   %(start)s + s * interval '5 minutes'
                       + (CASE WHEN s < %(long)s THEN %(long_ticks)s ELSE %(ticks)s END - 1)
                       * interval '5 seconds',
                   'ended', 0.5, 100
            FROM generate_series(0, %(sessions)s - 1) AS s
            """,
            {
                "events": EVENTS,
                "start": START,
                "long": LONG_SESSIONS,
                "ticks": ticks,
                "long_ticks": LONG_TICKS,
                "sessions": sessions,
            },
        )
        # Secondary index rebuilt after the load: how a bulk import would be done.
        conn.execute("DROP INDEX IF EXISTS ix_engagement_metrics_event_time")
        for first in range(0, sessions, BATCH):
            started = time.perf_counter()
            conn.execute(
                """
                INSERT INTO engagement_metrics (time, session_id, event_id, engagement_score,
                    chat_msgs_per_min, poll_participation, active_users, reactions_per_min,
                    user_leave_rate, extra)
                SELECT s.first_seen + g * interval '5 seconds', s.session_id, s.event_id,
                       0.5 + 0.35 * sin(g / 180.0 + mod(abs(hashtext(s.session_id)), 7)),
                       3 + mod(g, 11), 0.3, 10 + mod(g, 40), 2.5, 0.01,
                       jsonb_build_object('total_users', 80 + mod(g, 60), 'category', 'MODERATE')
                FROM sessions s
                CROSS JOIN LATERAL generate_series(
                    0, (extract(epoch FROM s.last_seen - s.first_seen) / 5)::int) AS g
                WHERE s.session_id >= %(lo)s AND s.session_id < %(hi)s
                """,
                {"lo": f"hist-{first:05d}", "hi": f"hist-{first + BATCH:05d}"},
            )
            print(
                f"  loaded sessions {first}-{first + BATCH - 1} "
                f"in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
        conn.execute(
            "CREATE INDEX ix_engagement_metrics_event_time ON engagement_metrics (event_id, time)"
        )
        seed_incidents(conn)
        conn.execute("ANALYZE")
        rows = conn.execute("SELECT count(*) FROM engagement_metrics").fetchone()[0]
    started = time.perf_counter()
    engine = create_db_engine(url)
    rolled = SessionStatsRollup(engine).catch_up()
    engine.dispose()
    print(
        f"  rolled up {rolled} sessions in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    if timescale:
        started = time.perf_counter()
        with psycopg.connect(plain, autocommit=True) as conn:
            for view in AGGREGATES:
                conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
            conn.execute("ANALYZE")
        print(
            f"  materialised the aggregates in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return rows


def seed_incidents(conn: psycopg.Connection) -> None:
    """A sudden drop in every tenth session, an executed poll in every twentieth."""
    conn.execute(
        """
        INSERT INTO anomalies (time, episode_id, session_id, event_id, type, severity,
            anomaly_score, current_engagement, expected_engagement, deviation, signals,
            explanation)
        SELECT first_seen + interval '1 hour', 'ep-' || session_id, session_id, event_id,
               'SUDDEN_DROP', 'WARNING', 0.8, 0.2, 0.5, -0.6, '{}', 'chat fell'
        FROM sessions WHERE mod(substr(session_id, 6)::int, 10) = 0
        """
    )
    conn.execute(
        """
        INSERT INTO interventions (time, intervention_id, session_id, event_id, type, status,
            confidence, content, executed_at)
        SELECT first_seen + interval '61 minutes', 'iv-' || session_id, session_id, event_id,
               'POLL', 'executed', 0.6, '{}', first_seen + interval '61 minutes'
        FROM sessions WHERE mod(substr(session_id, 6)::int, 20) = 0
        """
    )


def timed(fn: Callable[[], Any], runs: int = 7) -> float:
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def naive_series(engine: sa.Engine, session_id: str, start: datetime, end: datetime) -> list:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT time, engagement_score FROM engagement_metrics "
                "WHERE session_id = :s AND time >= :a AND time < :b ORDER BY time"
            ),
            {"s": session_id, "a": start, "b": end},
        ).all()
    buckets: dict[datetime, list[float]] = defaultdict(list)
    for stamp, score in rows:
        buckets[stamp.replace(second=0, microsecond=0)].append(score)
    return [(k, sum(v) / len(v)) for k, v in sorted(buckets.items())]


def naive_filter(engine: sa.Engine, text: str) -> list:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT s.session_id, s.title, s.last_seen, avg(m.engagement_score), "
                "min(m.engagement_score) FROM sessions s JOIN engagement_metrics m "
                "USING (session_id) GROUP BY s.session_id, s.title, s.last_seen"
            )
        ).all()
    matched = [r for r in rows if text in (r.title or "").lower()]
    return sorted(matched, key=lambda r: r.last_seen, reverse=True)[:50]


def naive_score_filter(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT s.session_id, avg(m.engagement_score) AS average, "
                "sum(CASE WHEN m.engagement_score < 0.3 THEN 1 ELSE 0 END) AS low, "
                "bool_or(a.session_id IS NOT NULL) AS dropped "
                "FROM sessions s JOIN engagement_metrics m USING (session_id) "
                "LEFT JOIN anomalies a ON a.session_id = s.session_id AND a.type = 'SUDDEN_DROP' "
                "GROUP BY s.session_id"
            )
        ).all()
    matched = [r for r in rows if 0.45 <= r.average <= 0.6 and r.low * 5 / 60 >= 30 and r.dropped]
    return sorted(matched, key=lambda r: r.average)[:50]


def export_csv(queries: SessionQueries, session_id: str, request: SeriesRequest) -> int:
    out = io.StringIO()
    points = queries.series(session_id, request)
    writer = csv.DictWriter(out, fieldnames=list(points[0]))
    writer.writeheader()
    writer.writerows(points)
    return len(out.getvalue())


def print_results(engine: sa.Engine, queries: SessionQueries) -> None:
    day = START + timedelta(minutes=5 * 3)  # hist-00003 runs 24 h from here
    one_day = SeriesRequest.model_validate(
        {"bucket": "1m", "from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    )
    raw_day = SeriesRequest.model_validate(
        {"bucket": "raw", "from": day.isoformat(), "to": (day + timedelta(hours=6)).isoformat()}
    )
    by_title = SessionFilter.model_validate(
        {"q": "workshop", "sort": "last_seen", "order": "desc", "page": 3}
    )
    by_score = SessionFilter.model_validate(
        {
            "avg_min": 0.45,
            "avg_max": 0.6,
            "below": 0.3,
            "below_minutes": 30,
            "anomaly": "SUDDEN_DROP",
            "sort": "avg_score",
            "order": "asc",
        }
    )
    results = [
        (
            "one session's 24 h at 1-min buckets (1,440 points)",
            timed(lambda: queries.series("hist-00003", one_day)),
            timed(lambda: naive_series(engine, "hist-00003", day, day + timedelta(days=1))),
            "< 50",
        ),
        (
            "past-sessions filter over 10,000 sessions (title contains, page 3 of 50)",
            timed(lambda: queries.sessions(by_title)),
            timed(lambda: naive_filter(engine, "workshop"), runs=3),
            "< 300",
        ),
        (
            "past-sessions filter over 10,000 sessions (average, minutes below 0.3, "
            "anomaly type; sorted by average)",
            timed(lambda: queries.sessions(by_score)),
            timed(lambda: naive_score_filter(engine), runs=3),
            "< 300",
        ),
        (
            "CSV export of one 24-h session, 1-min buckets",
            timed(lambda: export_csv(queries, "hist-00003", one_day)),
            None,
            "",
        ),
        (
            "CSV export of 6 h of one session, raw 5-s ticks (4,320 rows)",
            timed(lambda: export_csv(queries, "hist-00003", raw_day)),
            None,
            "",
        ),
    ]
    print("| query | ours (median ms) | naive (median ms) | target ms |")
    print("|---|---|---|---|")
    for name, ours, naive, target in results:
        shown = f"{naive:,.1f}" if naive is not None else "—"
        print(f"| {name} | {ours:.1f} | {shown} | {target} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use a database kept earlier")
    parser.add_argument("--sessions", type=int, default=SESSIONS, help="smaller for a smoke run")
    parser.add_argument("--ticks", type=int, default=TICKS, help="ticks per ordinary session")
    parser.add_argument(
        "--compress", action="store_true", help="TimescaleDB: compress every chunk, time again"
    )
    args = parser.parse_args()
    base = args.admin.rsplit("/", 1)[0]
    url = f"{base}/{DB_NAME}".replace("postgresql://", "postgresql+psycopg://", 1)
    if not args.reuse:
        with psycopg.connect(args.admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{DB_NAME}"')
        started = time.perf_counter()
        rows = build(url, args.sessions, args.ticks)
        print(f"Loaded {rows:,} score rows in {time.perf_counter() - started:.0f} s.\n")
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            timescale = (
                conn.execute(
                    sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
                ).first()
                is not None
            )
        print(f"Backend: {'TimescaleDB' if timescale else 'plain PostgreSQL'}.\n")
        print_results(engine, SessionQueries(engine, aggregates=timescale))
        if args.compress and timescale:
            # The product's compression settings, with a policy too far out to ever run.
            upgrade_schema(engine, StoragePolicy(compress_after_days=36500))
            started = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("SET statement_timeout = 0"))
                conn.execute(
                    sa.text(
                        "SELECT count(compress_chunk(c, if_not_compressed => true)) "
                        "FROM show_chunks('engagement_metrics') c"
                    )
                )
                conn.execute(sa.text("ANALYZE"))
            print(f"\nCompressed every chunk in {time.perf_counter() - started:.0f} s.\n")
            print_results(engine, SessionQueries(engine, aggregates=True))
    finally:
        engine.dispose()
        if not args.keep:
            with psycopg.connect(args.admin, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
