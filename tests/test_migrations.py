"""`engagement-conductor db` and the servers' schema check, on SQLite and PostgreSQL (#16).
(Databases made before migrations: tests/test_storage.py; TimescaleDB: tests/test_timescale.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from app.cli import main
from services.storage.database import create_db_engine
from services.storage.migrate import head_revision, history
from tests.conftest import REDIS_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_url")


def run(database_url: str, *args: str) -> Result:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "ALLOW_OPEN_ACCESS": "true",
        "MIGRATE_ON_START": "false",
    }
    return CliRunner().invoke(main, list(args), env=env)


def tables(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_history_lists_every_revision_oldest_first(database_url: str) -> None:
    result = run(database_url, "db", "history")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("base -> 0001: Baseline")
    assert lines[1].startswith("0001 -> 0002: TimescaleDB")
    assert lines[2].startswith("0002 -> 0003: agent_posteriors.delta_squares")
    assert lines[-1].startswith(f"0003 -> {head_revision()}: agent_posteriors.before_sum")
    assert len(lines) == len(history())


def test_a_dry_run_prints_the_sql_and_changes_nothing(database_url: str) -> None:
    result = run(database_url, "db", "upgrade", "--sql")
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE engagement_metrics" in result.output
    assert "CREATE TABLE alembic_version" in result.output
    assert tables(database_url) == set()


def test_upgrade_current_downgrade_and_upgrade_again(database_url: str) -> None:
    assert run(database_url, "db", "current").output.startswith("none (newest:")
    upgraded = run(database_url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database schema at {head_revision()}" in upgraded.output
    assert run(database_url, "db", "current").output.strip() == f"{head_revision()} (newest)"
    assert {"engagement_metrics", "sessions", "interventions", "alembic_version"} <= tables(
        database_url
    )
    # Nothing left to do: the dry run from the newest revision has no table in it.
    assert "CREATE TABLE" not in run(database_url, "db", "upgrade", "--sql").output
    down = run(database_url, "db", "downgrade", "base")
    assert down.exit_code == 0, down.output
    assert tables(database_url) <= {"alembic_version"}
    assert run(database_url, "db", "upgrade").exit_code == 0


def test_servers_refuse_a_database_without_the_newest_schema_saying_what_to_run(
    database_url: str,
) -> None:
    for command in ("serve", "collect"):
        result = run(database_url, command)
        assert result.exit_code != 0
        assert "the database has no schema yet" in result.output
        assert "engagement-conductor db upgrade" in result.output
    assert run(database_url, "db", "upgrade", "0001").exit_code == 0
    older = run(database_url, "collect")
    assert older.exit_code != 0 and f"older than this program's {head_revision()}" in older.output
    assert run(database_url, "db", "upgrade").exit_code == 0
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()
    for command in ("serve", "collect"):
        newer = run(database_url, command)
        assert newer.exit_code != 0 and "a newer release migrated it" in newer.output
    # Told to migrate, a newer database is still refused: there is no way down from here.
    assert "a newer release migrated it" in run(database_url, "db", "upgrade").output


def test_outcomes_learnt_before_squares_were_kept_get_the_prior_spread(database_url: str) -> None:
    assert run(database_url, "db", "upgrade", "0002").exit_code == 0
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO agent_posteriors (context, intervention_type, successes,"
                    " failures, delta_sum, updated_at) VALUES"
                    " ('SUDDEN_DROP|*|*|*', 'POLL', 3, 1, 0.2, '2026-12-01 00:00:00'),"
                    " ('SUDDEN_DROP|*|*|*', 'CHAT_PROMPT', 1, 0, 0.1, '2026-12-01 00:00:00'),"
                    " ('SUDDEN_DROP|*|*|*', 'NOTIFICATION', 0, 0, 0, '2026-12-01 00:00:00')"
                )
            )
        assert run(database_url, "db", "upgrade").exit_code == 0
        with engine.connect() as conn:
            rows = dict(
                conn.execute(
                    sa.text("SELECT intervention_type, delta_squares FROM agent_posteriors")
                ).all()
            )
    finally:
        engine.dispose()
    # Four outcomes averaging +0.05, spread 0.15 about it: 4 * 0.05^2 + 3 * 0.15^2.
    assert rows["POLL"] == pytest.approx(4 * 0.05**2 + 3 * 0.15**2)
    assert rows["CHAT_PROMPT"] == pytest.approx(0.1**2)  # one outcome has no spread
    assert rows["NOTIFICATION"] == 0


def test_outcomes_learnt_before_lifts_were_kept_are_replayed_from_their_measurements(
    database_url: str,
) -> None:
    assert run(database_url, "db", "upgrade", "0003").exit_code == 0
    fine, other = "SUDDEN_DROP|low|ge50|dev<10%", "SUDDEN_DROP|very-low|ge50|dev<10%"
    measured = [  # time, id, fine context, type, before, after
        ("2026-12-01 00:00:01", "i1", fine, "POLL", 0.2, 0.3),  # baseline 0.2: lift 0.1
        ("2026-12-01 00:00:02", "i2", fine, "CHAT_PROMPT", 0.4, 0.4),  # 0.3: lift 0.1
        ("2026-12-01 00:00:03", "i3", other, "POLL", 0.1, 0.0),  # its own: lift -0.1
        ("2026-12-01 00:00:04", "i4", fine, "POLL", 0.6, 0.2),  # 0.4: lift -0.2
    ]
    posteriors = [  # key, type, successes, failures, delta_sum, delta_squares
        # One more POLL outcome than measured: a change of +0.1, from the context's mean 0.4.
        (fine, "POLL", 2, 1, -0.2, 0.18),
        (fine, "CHAT_PROMPT", 0, 1, 0.0, 0.0),
        (fine, "GAMIFICATION", 1, 1, 0.1, 0.05),  # none measured: both start at 0.4
        ("SUDDEN_DROP|*|ge50|*", "POLL", 1, 2, -0.4, 0.18),
        ("SUDDEN_DROP|*|*|*", "POLL", 1, 2, -0.4, 0.18),
        # Two outcomes no measurement holds: their changes are their lifts.
        ("MASS_EXIT|*|*|*", "POLL", 2, 0, 0.3, 0.05),
    ]
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as conn:
            for at, ident, key, arm, before, after in measured:
                conn.execute(
                    sa.text(
                        "INSERT INTO agent_performance (time, intervention_id, session_id,"
                        " intervention_type, context, reward, success, engagement_before,"
                        " engagement_after) VALUES (:at, :id, 's1', :arm, :key, 0, :won, :b, :a)"
                    ),
                    {"at": at, "id": ident, "arm": arm, "key": key, "won": after > before}
                    | {"b": before, "a": after},
                )
            for key, arm, won, lost, delta, squares in posteriors:
                conn.execute(
                    sa.text(
                        "INSERT INTO agent_posteriors (context, intervention_type, successes,"
                        " failures, delta_sum, delta_squares, updated_at) VALUES"
                        " (:key, :arm, :won, :lost, :delta, :squares, '2026-12-01 00:00:00')"
                    ),
                    {"key": key, "arm": arm, "won": won, "lost": lost}
                    | {"delta": delta, "squares": squares},
                )
        assert run(database_url, "db", "upgrade").exit_code == 0
        with engine.connect() as conn:
            rows = {
                (row[0], row[1]): row[2:]
                for row in conn.execute(
                    sa.text(
                        "SELECT context, intervention_type, before_sum, lift_sum, lift_squares"
                        " FROM agent_posteriors"
                    )
                )
            }
    finally:
        engine.dispose()
    assert rows[(fine, "POLL")] == pytest.approx((0.8 + 0.4, -0.1 + 0.1, 0.05 + 0.01))
    assert rows[(fine, "GAMIFICATION")] == pytest.approx((0.8, 0.1, 0.05))
    assert rows[(fine, "CHAT_PROMPT")] == pytest.approx((0.4, 0.1, 0.01))
    for coarse in ("SUDDEN_DROP|*|ge50|*", "SUDDEN_DROP|*|*|*"):
        assert rows[(coarse, "POLL")] == pytest.approx((0.9, -0.2, 0.06))
    assert rows[("MASS_EXIT|*|*|*", "POLL")] == pytest.approx((0.0, 0.3, 0.05))
