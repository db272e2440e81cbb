"""Sending approved interventions to the platform (design §3) and telling live pages about
every change to an intervention."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import redis
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from services.core import instruments
from services.core.platform import PLATFORM_MESSAGE_TYPE
from services.core.push import InterventionMessage, encode
from services.core.push_objects import Intervention
from services.core.redis_bus import REDIS_DOWN, RedisNames
from services.core.vocabulary import InterventionStatus, InterventionType
from services.storage.interventions import InterventionRecord, InterventionStore

log = logging.getLogger(__name__)

S = InterventionStatus


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class InterventionSender:
    """`clock` is the agent's time (the desk and the follow-up read it here): the wall clock,
    or a simulated one that tests and benchmarks advance tick by tick."""

    def __init__(
        self,
        store: InterventionStore,
        client: redis.Redis,
        names: RedisNames,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.engine: Engine = store.engine
        self.client = client
        self.names = names
        self.clock = clock

    def execute(self, record: InterventionRecord) -> InterventionRecord:
        """Send an approved intervention to the platform (design §3) and record what happened."""
        arm = InterventionType(record.type)
        now = self.clock()
        content = {k: v for k, v in record.content.items() if k != "variant"}
        message = {
            "type": PLATFORM_MESSAGE_TYPE[arm],
            "intervention_id": record.intervention_id,
            "session_id": record.session_id,
            "event_id": record.event_id,
            "timestamp": now.isoformat(),
            **content,
        }
        note = None
        try:
            receivers = self.client.publish(self.names.agent_channel, json.dumps(message))
        except REDIS_DOWN as exc:
            note = f"could not reach Redis to send it ({exc.__class__.__name__})"
        else:
            if not receivers:
                note = "no platform service is listening on agent.interventions; not delivered"
        try:
            with self.engine.begin() as conn:
                if note is None:
                    moved = self.store.move(
                        conn, record.intervention_id, [S.APPROVED], S.EXECUTED, executed_at=now
                    )
                else:
                    moved = self.store.move(
                        conn, record.intervention_id, [S.APPROVED], S.FAILED, note=note
                    )
        except SQLAlchemyError:
            # Sent (or not), but unrecorded: say so rather than "nothing was changed". The row
            # stays approved until the sweep marks it with the same uncertainty.
            log.exception(
                "intervention %s: its outcome could not be recorded", record.intervention_id
            )
            outcome = "was sent to the platform" if note is None else f"was not sent ({note})"
            return dataclasses.replace(
                record, note=f"it {outcome}, but the database could not record it"
            )
        final = moved or record
        self.push(final)
        if note is not None:
            log.warning("intervention %s failed: %s", record.intervention_id, note)
        return final

    def push(self, record: InterventionRecord, status_changed: bool = True) -> None:
        """Tell the live pages; `status_changed`: the record reached its status just now (not
        new words or a delivery receipt), and counts in the interventions metric."""
        if status_changed:
            instruments.interventions.labels(type=record.type, status=record.status).inc()
        message = InterventionMessage(
            sessionId=record.session_id, intervention=Intervention.from_row(record)
        )
        with contextlib.suppress(*REDIS_DOWN):
            # The database holds the truth; a page that misses this push catches up on reload.
            self.client.publish(self.names.push_channel(record.session_id), encode(message))
