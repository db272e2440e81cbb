"""What happens to interventions as time passes: suggestions expire, the platform reports
delivery, and executed ones are measured and learnt from (`services.agent.reward`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from services.agent.outcomes import DeliveryOutcome
from services.agent.posteriors import DatabasePosteriors
from services.agent.reward import RewardOutcome, RewardRule, judge
from services.agent.sender import InterventionSender
from services.core.vocabulary import AgentContext, InterventionStatus, InterventionType
from services.storage.interventions import InterventionRecord, InterventionStore

S = InterventionStatus
# An approval whose sending never finished (its server died) is failed after this long.
STUCK_APPROVAL_SECONDS = 60.0


class InterventionFollowUp:
    def __init__(
        self,
        sender: InterventionSender,
        posteriors: DatabasePosteriors,
        rule: RewardRule | None = None,
    ) -> None:
        self.sender = sender
        self.store: InterventionStore = sender.store
        self.engine: Engine = sender.engine
        self.posteriors = posteriors
        self.rule = rule or RewardRule()

    def expire(self, now: datetime | None = None) -> list[InterventionRecord]:
        """Suggestions past their time, and approvals whose server died before sending."""
        now = now or self.sender.clock()
        with self.engine.begin() as conn:
            changed = self.store.expire_due(conn, now)
            stuck_before = now - timedelta(seconds=STUCK_APPROVAL_SECONDS)
            for intervention_id in self.store.stuck_approved(conn, stuck_before):
                moved = self.store.move(
                    conn,
                    intervention_id,
                    [S.APPROVED],
                    S.FAILED,
                    note="approved, but its sending was interrupted (a server stopped or lost "
                    "the database): it may or may not have reached the platform",
                )
                if moved is not None:
                    changed.append(moved)
        for record in changed:
            self.sender.push(record)
        return changed

    def measure(self, now: datetime | None = None) -> list[InterventionRecord]:
        """Judge every executed intervention whose measurement delay has passed, learn from it."""
        now = now or self.sender.clock()
        rule = self.rule
        with self.engine.connect() as conn:
            due = self.store.executed_before(conn, now - timedelta(seconds=rule.delay_seconds))
        measured = []
        for record in due:
            assert record.executed_at is not None
            done = record.executed_at
            end = done + timedelta(seconds=rule.delay_seconds)
            with self.engine.begin() as conn:
                before = self.store.scores_between(
                    conn, record.session_id, done - timedelta(seconds=rule.before_seconds), done
                )
                after = self.store.scores_between(
                    conn,
                    record.session_id,
                    # (end - after, end]: the window's first instant belongs to the one before.
                    end - timedelta(seconds=rule.after_seconds) + timedelta(microseconds=1),
                    end + timedelta(microseconds=1),
                )
                outcome = judge(before, after, rule)
                if outcome is None:
                    moved = self.store.move(
                        conn,
                        record.intervention_id,
                        [S.EXECUTED],
                        S.UNMEASURED,
                        measured_at=now,
                        note="no scores before or after it to judge by (did the session end?)",
                    )
                else:
                    moved = self.store.move(
                        conn,
                        record.intervention_id,
                        [S.EXECUTED],
                        S.MEASURED,
                        measured_at=now,
                        outcome=(record.outcome or {}) | outcome.as_json(),
                    )
                    if moved is not None:
                        self._learn(conn, moved, outcome)
            if moved is not None:
                measured.append(moved)
                self.sender.push(moved)
        return measured

    def _learn(self, conn: Connection, record: InterventionRecord, judged: RewardOutcome) -> None:
        if record.context is None:
            return
        context = AgentContext.from_key(record.context)
        arm = InterventionType(record.type)
        self.posteriors.learn_in(conn, context, arm, judged)
        outcome = record.outcome or {}
        self.store.record_performance(
            conn,
            {
                "time": record.measured_at or self.sender.clock(),
                "intervention_id": record.intervention_id,
                "session_id": record.session_id,
                "event_id": record.event_id,
                "intervention_type": arm.value,
                "context": record.context,
                "reward": judged.reward,
                "success": judged.success,
                "engagement_before": outcome.get("engagement_before"),
                "engagement_after": outcome.get("engagement_after"),
            },
        )

    def apply_delivery(self, outcome: DeliveryOutcome) -> str | None:
        """The outcome stream's entry applied, or the reason it names nothing of ours."""
        record = self.store.get(outcome.intervention_id)
        if record is None:
            return "intervention_id: no such intervention"
        for key in ("session_id", "event_id"):
            said = outcome.detail.get(key)
            if said is not None and said != getattr(record, key):
                return f"{key}: does not match the intervention's"
        self.record_delivery(outcome.intervention_id, outcome.success, outcome.detail)
        return None

    def record_delivery(
        self, intervention_id: str, success: bool, detail: dict[str, Any]
    ) -> InterventionRecord | None:
        """The platform's word on delivery (its outcome stream). None: no such intervention."""
        with self.engine.begin() as conn:
            record = self.store.get(intervention_id, conn)
            if record is None:
                return None
            outcome = (record.outcome or {}) | {"delivery": detail | {"success": success}}
            # A failure can arrive before the sender has recorded the execution.
            if not success and record.status in (S.APPROVED, S.EXECUTED):
                error = str(detail.get("error") or "no reason given")[:500]
                moved = self.store.move(
                    conn,
                    intervention_id,
                    [S.APPROVED, S.EXECUTED],
                    S.FAILED,
                    outcome=outcome,
                    note=f"the platform could not deliver it: {error}",
                )
            else:
                moved = None
            failed = moved is not None
            if moved is None:
                moved = self.store.set_outcome(conn, intervention_id, outcome)
        if moved is not None:
            self.sender.push(moved, status_changed=failed)
        return moved
