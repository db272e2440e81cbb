"""The desk's side of the language-model writer: when to start it, what the row records of it,
and its answer arriving after the row was written.

Templates are the floor: every intervention has the template's words first; the writer's replace
them only while nobody has decided yet. The row keeps who wrote the words, and the writing's
model, tokens, latency and fallback reason, never the prompt, the chat or the answer.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

from sqlalchemy.engine import Connection

from services.agent.content import ContentRequest, InterventionContent
from services.agent.decision_lock import serialised
from services.agent.model_writer import BUDGET_SPENT, LATE, TIMED_OUT, Written
from services.agent.sender import InterventionSender
from services.agent.writing_pool import WritingPool
from services.core.vocabulary import InterventionStatus
from services.storage.agent_settings import AgentSettings

log = logging.getLogger(__name__)

TEMPLATE = "template"


def content_columns(content: InterventionContent) -> dict[str, Any]:
    return {
        "content": content.payload | {"variant": content.variant},
        "preview": content.preview[:500],
    }


class DeskWriting:
    def __init__(
        self, sender: InterventionSender, writer: WritingPool | None, token_budget: int
    ) -> None:
        self.sender = sender
        self.store = sender.store
        self.writer = writer
        self.token_budget = token_budget  # an event's, unless its settings name its own

    @property
    def deadline_seconds(self) -> float:
        return self.writer.deadline_seconds if self.writer is not None else 0.0

    def start(
        self, conn: Connection, request: ContentRequest, settings: AgentSettings
    ) -> Future[Written] | None:
        """The writer at work on `request`, or None when the event does not use it."""
        if self.writer is None or not settings.written_content:
            return None
        budget = settings.token_budget if settings.token_budget is not None else self.token_budget
        if request.event_id is not None:
            spent = self.store.tokens_spent(conn, request.event_id)
            if spent >= budget:
                return self.writer.skip(BUDGET_SPENT, f"{spent} of {budget} tokens")
        return self.writer.submit(request)

    def fields(
        self, writing: Future[Written] | None, written: Written | None, acts: bool
    ) -> dict[str, Any]:
        """The row's writing columns when it is inserted."""
        if writing is None:
            return {"written_by": TEMPLATE}
        if written is None:
            if acts:  # it goes out now: the writer's words would come too late
                detail = f"deadline of {self.deadline_seconds:g} s"
                return {
                    "written_by": TEMPLATE,
                    "writing": {"fallback": TIMED_OUT, "detail": detail},
                }
            return {"written_by": TEMPLATE, "writing": {"state": "writing"}}
        fields: dict[str, Any] = {"writing": written.metadata(), "tokens": written.tokens}
        if written.content is None:
            return fields | {"written_by": TEMPLATE}
        return fields | content_columns(written.content) | {"written_by": written.model}

    def later(self, intervention_id: str, done: Future[Written]) -> None:
        """The writer's answer after the row was written: the words replace the template's
        while the suggestion still waits; the tokens are recorded either way."""
        try:
            written = done.result()
            record = self.store.get(intervention_id)
            if record is None:
                return
            with serialised(self.sender.engine, record.event_id, record.session_id) as conn:
                current = self.store.get(intervention_id, conn)
                assert current is not None
                fields: dict[str, Any] = {"writing": written.metadata(), "tokens": written.tokens}
                if current.status != InterventionStatus.PENDING:
                    # Decided meanwhile, with the template's words: those are what went out.
                    late = written.fallback or LATE
                    fields["writing"] |= {"fallback": late}
                elif written.content is not None:
                    fields |= content_columns(written.content) | {"written_by": written.model}
                updated = self.store.set_writing(conn, intervention_id, fields)
            if updated is not None:
                self.sender.push(updated, status_changed=False)
        except Exception:
            # On the writer's thread: nobody else would hear of it.
            log.exception("could not record the writer's answer for %s", intervention_id)
