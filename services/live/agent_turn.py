"""The agent's turn, on the collector's chore thread: alerts and suggestions for the episodes a
tick opened; for the housekeeper also expiring, measuring and reading delivery outcomes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from services.agent.desk import InterventionDesk, SessionContext
from services.agent.followup import InterventionFollowUp
from services.agent.outcomes import DeliveryOutcome, OutcomeReader
from services.agent.reward import RewardRule
from services.alerts.outbox import AlertOutbox
from services.core.redis_bus import REDIS_DOWN, RedisNames
from services.core.settings import Settings
from services.live.alert_feed import AlertFeed
from services.live.collector_reports import reap_dead_reports
from services.live.session_book import SessionBook
from services.live.stores import Stores

log = logging.getLogger(__name__)


class AgentTurn:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        names: RedisNames,
        stores: Stores,
        desk: InterventionDesk,
        book: SessionBook,
        is_housekeeper: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.client = client
        self.names = names
        self.desk = desk
        self.book = book
        self.is_housekeeper = is_housekeeper
        delay = settings.agent_reward_delay_seconds
        self.followup = InterventionFollowUp(
            desk.sender,
            stores.posteriors,
            RewardRule.for_delay(delay),
        )
        self.outcomes = OutcomeReader(
            client, names, settings.consumer_name, settings.dead_letter_maxlen
        )
        self.alerts = AlertFeed(
            AlertOutbox(client, names, stores.alerts), book, settings.public_url
        )

    def run(
        self, opened: Sequence[dict[str, Any]], escalated: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Alert and suggest for the episodes this collector opened or escalated; the
        housekeeper alone also expires, measures (and alerts of outcomes) and reads delivery
        outcomes.

        Each part fails on its own (logged): the database or Redis being away, or a bug in a
        content generator, costs that part of this turn, never the tick or the stream reading.
        """
        self._isolated_step("queueing anomaly alerts", self.alerts.episodes, opened, escalated)
        for row in opened:
            self._isolated_step("suggesting for a new episode", self._propose, row)
        if not self.is_housekeeper():
            return
        self._isolated_step("counting what stopped collectors left", self._reap_dead_reports)
        self._isolated_step("expiring suggestions", self.followup.expire)
        self._isolated_step("measuring interventions", self._measure)
        self._isolated_step("reading delivery outcomes", self.outcomes.read, self.delivered)

    def _propose(self, row: dict[str, Any]) -> None:
        signals = row["signals"]
        session_id = row["session_id"]
        window = self.book.windows.get(session_id)
        session = SessionContext(
            session_id=session_id,
            event_id=row["event_id"],
            engagement=row["current_engagement"],
            present_users=int(signals.get("total_users", 0)),
            chat_per_min=float(signals.get("chat_msgs_per_min", 0.0)),
            title=window.session_title if window is not None else None,
            event_title=window.event_title if window is not None else None,
            signals={k: float(v) for k, v in signals.items() if isinstance(v, int | float)},
            chat=self.book.chat.recent(session_id),
        )
        record = self.desk.propose(
            session, row["type"], row["deviation"], row["episode_id"], row["explanation"]
        )
        self.alerts.suggestion(record)

    def _reap_dead_reports(self) -> None:
        reap_dead_reports(self.client, self.names, 2 * self.settings.lease_seconds)

    def _measure(self) -> None:
        self.alerts.outcomes(self.followup.measure())

    def _isolated_step(self, what: str, action: Callable[..., object], *args: object) -> None:
        try:
            action(*args)
        except SQLAlchemyError as exc:
            log.warning(
                "%s skipped, database error (%s)",
                what,
                str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200],
            )
        except REDIS_DOWN as exc:
            log.warning("%s skipped, Redis unavailable (%s)", what, exc)
        except Exception:
            log.exception("%s failed", what)

    def delivered(self, outcome: DeliveryOutcome) -> str | None:
        """Apply the platform's word on one delivery; why not, if it cannot be applied."""
        return self.followup.apply_delivery(outcome)
