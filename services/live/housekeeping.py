"""The leading collector's periodic chores on the database, each failing on its own: end
sessions nobody ticks any more, roll up session figures, delete score rows past retention."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from services.core.settings import Settings
from services.storage.metrics_store import MetricsStore
from services.storage.policy import ScorePruner
from services.storage.session_stats import SessionStatsRollup

log = logging.getLogger(__name__)

# Each turn (every 15 s) rolls up at most this long, so a backlog never delays the tick much.
ROLLUP_BUDGET_SECONDS = 2.0


class Housekeeping:
    def __init__(self, settings: Settings, store: MetricsStore) -> None:
        self.settings = settings
        self.store = store
        self.rollup = SessionStatsRollup(store.engine)
        self.pruner = ScorePruner(store.engine, settings.storage_policy())

    def run(self) -> None:
        chores: tuple[tuple[str, Callable[[], object]], ...] = (
            ("sweeping abandoned sessions", self.end_abandoned_sessions),
            ("rolling up session figures", self._roll_up),
            ("deleting score rows past retention", self.pruner.run),
        )
        for what, chore in chores:
            try:
                chore()
            except SQLAlchemyError as exc:
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
                log.warning("%s skipped, database error (%s)", what, reason)
            except Exception:
                log.exception("%s failed", what)

    def _roll_up(self) -> None:
        self.rollup.catch_up(budget_seconds=ROLLUP_BUDGET_SECONDS)

    def end_abandoned_sessions(self) -> None:
        """Catalogue rows still 'live' that no collector has ticked for a while: their owner
        stopped and nobody took their partition up again. Ours are ticked every tick."""
        settings = self.settings
        quiet = max(3 * settings.tick_seconds, settings.lease_seconds) + 30
        stale_before = datetime.fromtimestamp(time.time() - quiet, UTC)
        ended = self.store.end_abandoned_sessions(stale_before)
        if ended:
            log.info("marked %d abandoned sessions as ended", ended)
