"""Retention without TimescaleDB: score rows past METRICS_RETENTION_DAYS are deleted in bounded
batches, nothing newer; the policy's settings are validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.core.settings import StoragePolicy
from services.storage import policy as storage_policy
from services.storage.metrics_store import MetricsStore
from services.storage.migrate import upgrade_schema
from services.storage.policy import ScorePruner, prune_scores
from services.storage.schema import engagement_metrics
from tests.test_storage import catalogue_row, metric_row


def stored_times(engine: sa.Engine) -> list[datetime]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(engagement_metrics.c.time).order_by("time")).scalars())


def test_rows_past_retention_go_in_batches_and_nothing_newer(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_schema(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    old = [metric_row("s-1", now - timedelta(days=40, seconds=5 * i), 0.3) for i in range(5)]
    kept = [metric_row("s-1", now - timedelta(days=29, seconds=5 * i), 0.3) for i in range(3)]
    MetricsStore(engine).write_batch(old + kept, [catalogue_row("s-1", now)])
    policy = StoragePolicy(metrics_retention_days=30)
    monkeypatch.setattr(storage_policy, "_PRUNE_BATCH", 2)
    assert prune_scores(engine, policy, now) == 2
    pruner = ScorePruner(engine, policy, every_seconds=3600)
    # A full batch means more is waiting: the next turn goes on at once, until none is left.
    assert [pruner.run() for _ in range(3)] == [2, 1, 0]
    assert stored_times(engine) == sorted(row["time"] for row in kept)
    assert prune_scores(engine, StoragePolicy(), now) == 0  # 0 days: keep everything


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"metrics_retention_days": 3}, "at least 8"),
        ({"metrics_retention_days": 30, "aggregate_retention_days": 10}, "at least METRICS"),
        ({"aggregate_retention_days": 400}, "with METRICS_RETENTION_DAYS set"),
    ],
)
def test_policies_that_would_lose_buckets_are_refused(policy: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoragePolicy(**policy)
