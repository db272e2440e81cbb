"""The intervention desk: proposes, guards, executes, expires and measures interventions.

The collector's leader calls `propose` when an anomaly episode opens, and `expire`, `measure`
and `record_delivery` as time passes; any web server calls `approve`, `dismiss` and `trigger`
for producers. Every change is a row in `interventions` (moved atomically, see
`services.storage.interventions`) and a push to the session's live pages.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from services.agent.content import (
    ContentGenerator,
    ContentRequest,
    InterventionContent,
    preview_of,
)
from services.agent.decision_lock import serialised
from services.agent.desk_writing import TEMPLATE, DeskWriting, content_columns
from services.agent.guards import GuardLimits, refusal
from services.agent.model_writer import Written
from services.agent.payload_gate import validate_content
from services.agent.posteriors import DatabasePosteriors
from services.agent.sender import InterventionSender
from services.agent.thompson import Choice, ThompsonSampler
from services.agent.writing_pool import WritingPool
from services.core.vocabulary import (
    NO_ANOMALY,
    AgentContext,
    AgentMode,
    InterventionStatus,
    InterventionType,
)
from services.storage.agent_settings import AgentSettings, AgentSettingsStore
from services.storage.interventions import (
    ExecutionHistory,
    InterventionRecord,
    InterventionStore,
)

log = logging.getLogger(__name__)

S = InterventionStatus
# A manual launch outside any anomaly learns in contexts of its own.


class InterventionError(ValueError):
    """A producer's request that cannot be done, with a message meant for them."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status an API would answer with


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What the desk knows about a session when it decides: from the tick or the database."""

    session_id: str
    event_id: str | None
    engagement: float
    present_users: int
    chat_per_min: float
    title: str | None = None
    event_title: str | None = None
    signals: Mapping[str, float] = field(default_factory=dict)
    # The room's last chat messages, for the writer only: never stored, logged or pushed.
    chat: tuple[str, ...] = ()


class InterventionDesk:
    def __init__(
        self,
        sender: InterventionSender,
        settings: AgentSettingsStore,
        posteriors: DatabasePosteriors,
        generator: ContentGenerator,
        *,
        limits: GuardLimits | None = None,
        sampler: ThompsonSampler | None = None,
        rng: random.Random | None = None,
        writer: WritingPool | None = None,
        token_budget: int = 0,
    ) -> None:
        self.sender = sender
        self.store: InterventionStore = sender.store
        self.engine: Engine = sender.engine
        self.settings = settings
        self.posteriors = posteriors
        self.generator = generator
        self.limits = limits or GuardLimits()
        self.sampler = sampler or ThompsonSampler()
        self.rng = rng or random.Random()
        # The language-model writer, when one is configured; the templates are always the floor.
        self.writing = DeskWriting(sender, writer, token_budget)

    # -- the agent (collector) ------------------------------------------------------------------

    def propose(
        self,
        session: SessionContext,
        anomaly_type: str,
        deviation: float,
        episode_id: str | None,
        explanation: str,
    ) -> InterventionRecord | None:
        """Choose and record an intervention for a new anomaly episode; executes it when the
        mode allows. None when the agent is off for the session.

        The choice is made first, outside the event's lock, so that the writer can start on
        it; a decision that executes at once waits for the writer at most its deadline, a
        suggestion appears at once with the template's words and takes the writer's when they
        come (`DeskWriting.later`)."""
        context = AgentContext.of(
            anomaly_type, session.engagement, session.present_users, deviation
        )
        choice: Choice | None = None
        request: ContentRequest | None = None
        writing: Future[Written] | None = None
        with self.engine.connect() as conn:
            settings, mode, _ = self.settings.effective(session.session_id, session.event_id, conn)
            if mode is AgentMode.OFF:
                return None
            if settings.allowed_types:
                choice = self.sampler.choose(
                    context, self.posteriors.records(context), settings.allowed_types, self.rng
                )
                request = self._request(
                    session, choice.type, anomaly_type, deviation, explanation, choice
                )
                now = self.sender.clock()
                if self._proposal_refusal(conn, session, choice, settings, now) is None:
                    writing = self.writing.start(conn, request, settings)
        acts = choice is not None and (
            mode is AgentMode.AUTO
            or (mode is AgentMode.SEMI_AUTO and choice.confidence >= settings.approve_threshold)
        )
        if writing is not None and acts:
            wait_for([writing], timeout=self.writing.deadline_seconds)
        now = self.sender.clock()
        written = writing.result() if writing is not None and writing.done() else None
        with serialised(self.engine, session.event_id, session.session_id) as conn:
            row = self._base_row(session, context, now, mode, episode_id, anomaly_type)
            if choice is None or request is None:
                record = self._refused(conn, row, "the event allows no intervention types")
            else:
                row |= self._template_content(request)
                row |= self.writing.fields(writing, written, acts)
                row |= {
                    "type": choice.type.value,
                    "confidence": round(choice.confidence, 4),
                    "reasoning": choice.reasoning(explanation),
                }
                reason = self._proposal_refusal(conn, session, choice, settings, now)
                if reason is not None:
                    record = self._refused(conn, row, reason)
                elif acts:
                    record = self.store.insert(
                        conn,
                        row
                        | {
                            "status": S.APPROVED.value,
                            "approved_by": f"agent ({mode.value}, confidence "
                            f"{choice.confidence:.2f})",
                            "decided_at": now,
                        },
                    )
                else:
                    expires = now + timedelta(seconds=settings.suggestion_ttl_seconds)
                    record = self.store.insert(
                        conn, row | {"status": S.PENDING.value, "expires_at": expires}
                    )
        self.sender.push(record)
        if writing is not None and written is None:
            intervention_id = record.intervention_id
            writing.add_done_callback(lambda done: self.writing.later(intervention_id, done))
        if record.status == S.APPROVED:
            record = self.sender.execute(record)
        return record

    def _request(
        self,
        session: SessionContext,
        arm: InterventionType,
        anomaly_type: str | None,
        deviation: float = 0.0,
        explanation: str = "",
        choice: Choice | None = None,
    ) -> ContentRequest:
        return ContentRequest(
            intervention_type=arm,
            anomaly_type=anomaly_type,
            session_id=session.session_id,
            event_id=session.event_id,
            session_title=session.title,
            present_users=session.present_users,
            chat_per_min=session.chat_per_min,
            engagement=session.engagement,
            event_title=session.event_title,
            explanation=explanation,
            deviation=deviation,
            signals=dict(session.signals),
            track_record=choice.reasoning(None) if choice is not None else "",
            chat=session.chat,
        )

    def _proposal_refusal(
        self,
        conn: Connection,
        session: SessionContext,
        choice: Choice,
        settings: AgentSettings,
        now: datetime,
    ) -> str | None:
        if self.store.pending_in_session(conn, session.session_id):
            return "a suggestion for this session is already waiting for a decision"
        if choice.confidence < settings.min_confidence:
            return (
                f"confidence {choice.confidence:.2f} in {choice.type} is below the event's "
                f"minimum of {settings.min_confidence:.2f}"
            )
        history = self._history(conn, session.session_id, session.event_id, now)
        return refusal(
            history, choice.type, settings.allowed_types, settings.hourly_cap, now, self.limits
        )

    def approve(self, intervention_id: str, event_id: str | None, actor: str) -> InterventionRecord:
        """Execute a pending suggestion; exactly once however many producers click at once."""
        now = self.sender.clock()
        expired = None
        record = self._decidable(intervention_id, event_id)
        with serialised(self.engine, record.event_id, record.session_id) as conn:
            current = self.store.get(intervention_id, conn)
            assert current is not None
            if current.status != S.PENDING:
                raise InterventionError(_already(current))
            if _past(current, now):
                expired = self.store.expire(conn, intervention_id, now)
            else:
                settings = self.settings.for_event(current.event_id, conn)
                history = self._history(conn, current.session_id, current.event_id, now)
                arm = InterventionType(current.type)
                reason = refusal(
                    history, arm, settings.allowed_types, settings.hourly_cap, now, self.limits
                )
                if reason is not None:
                    raise InterventionError(f"not sent: {reason}. It stays pending.")
                moved = self.store.move(
                    conn,
                    intervention_id,
                    [S.PENDING],
                    S.APPROVED,
                    approved_by=actor,
                    decided_at=now,
                )
                if moved is None:
                    raise InterventionError("someone else decided on it at the same moment")
        if expired is not None:
            self.sender.push(expired)
            raise InterventionError("this suggestion has expired; it was not sent")
        self.sender.push(moved)
        return self.sender.execute(moved)

    def dismiss(
        self, intervention_id: str, event_id: str | None, actor: str, reason: str = ""
    ) -> InterventionRecord:
        record = self._decidable(intervention_id, event_id)
        note = f"dismissed by {actor}" + (f": {reason.strip()[:300]}" if reason.strip() else "")
        now = self.sender.clock()
        expired = moved = None
        with serialised(self.engine, record.event_id, record.session_id) as conn:
            current = self.store.get(intervention_id, conn)
            assert current is not None
            if current.status == S.PENDING and _past(current, now):
                expired = self.store.expire(conn, intervention_id, now)
            else:
                moved = self.store.move(
                    conn,
                    intervention_id,
                    [S.PENDING],
                    S.DISMISSED,
                    approved_by=actor,
                    decided_at=now,
                    note=note,
                )
        if expired is not None:
            self.sender.push(expired)
            raise InterventionError("this suggestion had already expired")
        if moved is None:
            # Read under the same lock: it was no longer pending.
            raise InterventionError(_already(current))
        self.sender.push(moved)
        return moved

    def trigger(
        self,
        session: SessionContext,
        arm: InterventionType,
        actor: str,
        anomaly_type: str | None,
        deviation: float = 0.0,
        content: dict[str, Any] | None = None,
    ) -> InterventionRecord:
        """A producer's launch of `arm` now; guards apply and a refusal is logged and raised.

        During an open anomaly, `anomaly_type` and its `deviation` place the launch in the
        context the agent itself would have decided in, so its outcome is learnt there.
        `content`, the producer's own words, passes the same gate as generated content (400
        naming the field if not); without it the template writes them."""
        if content is not None:
            try:
                validate_content(arm, content)
            except ValueError as exc:
                raise InterventionError(str(exc), status=400) from None
            words = content_columns(InterventionContent(content, preview_of(arm, content), "own"))
            words |= {"written_by": actor[:100]}
        now = self.sender.clock()
        anomaly = anomaly_type or NO_ANOMALY
        context = AgentContext.of(anomaly, session.engagement, session.present_users, deviation)
        with serialised(self.engine, session.event_id, session.session_id) as conn:
            settings, mode, _ = self.settings.effective(session.session_id, session.event_id, conn)
            view = self.sampler.view(context, self.posteriors.records(context), arm)
            row = self._base_row(session, context, now, mode, None, anomaly_type)
            if content is None:
                words = self._template_content(self._request(session, arm, anomaly_type))
            row |= words
            row |= {
                "type": arm.value,
                "confidence": round(view.mean, 4),
                "reasoning": f"Launched by {actor}. Estimated success here {view.mean:.0%} "
                f"from {int(view.own.attempts)} measured attempts.",
            }
            history = self._history(conn, session.session_id, session.event_id, now)
            reason = refusal(
                history, arm, settings.allowed_types, settings.hourly_cap, now, self.limits
            )
            if reason is None:
                record = self.store.insert(
                    conn,
                    row | {"status": S.APPROVED.value, "approved_by": actor, "decided_at": now},
                )
            else:
                record = self._refused(conn, row | {"approved_by": actor}, reason)
        self.sender.push(record)
        if reason is not None:
            raise InterventionError(f"not sent: {reason}")
        return self.sender.execute(record)

    def _decidable(self, intervention_id: str, event_id: str | None) -> InterventionRecord:
        record = self.store.get(intervention_id)
        if record is None:
            raise InterventionError("no such suggestion", status=404)
        if record.event_id != event_id:
            raise InterventionError("this suggestion belongs to another event", status=403)
        return record

    # -- shared ---------------------------------------------------------------------------------

    def _base_row(
        self,
        session: SessionContext,
        context: AgentContext,
        now: datetime,
        mode: AgentMode,
        episode_id: str | None,
        anomaly_type: str | None,
    ) -> dict[str, Any]:
        return {
            "time": now,
            "intervention_id": str(uuid.uuid4()),
            "session_id": session.session_id,
            "event_id": session.event_id,
            "episode_id": episode_id,
            "anomaly_type": anomaly_type,
            "context": context.key,
            "mode": mode.value,
        }

    def _template_content(self, request: ContentRequest) -> dict[str, Any]:
        content = self.generator.generate(request, self.rng)
        validate_content(request.intervention_type, content.payload)
        return content_columns(content) | {"written_by": TEMPLATE}

    def _refused(self, conn: Connection, row: dict[str, Any], reason: str) -> InterventionRecord:
        full = {"type": "NONE", "content": {}} | row
        return self.store.insert(conn, full | {"status": S.REFUSED.value, "note": reason[:1000]})

    def _history(
        self, conn: Connection, session_id: str, event_id: str | None, now: datetime
    ) -> ExecutionHistory:
        limits = self.limits
        return self.store.history(
            conn, session_id, event_id, now, limits.session_burst_seconds, limits.longest_seconds
        )


def _past(record: InterventionRecord, now: datetime) -> bool:
    return record.expires_at is not None and record.expires_at <= now


def _already(record: InterventionRecord) -> str:
    who = f" by {record.approved_by}" if record.approved_by else ""
    return f"this suggestion is already {record.status}{who}"
