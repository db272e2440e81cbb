"""What the agent has learnt, as producers read it: success rates with 95 % credible intervals,
attempts and average engagement change, per intervention type and per context."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.agent.posteriors import DatabasePosteriors
from services.agent.thompson import PRIOR_ALPHA, PRIOR_BETA, credible_interval
from services.core.vocabulary import INTERVENTION_TYPES, AgentContext, InterventionType
from services.storage.interventions import InterventionStore


@dataclass(frozen=True, slots=True)
class PerformanceRow:
    type: InterventionType
    attempts: int
    successes: int
    rate: float | None  # observed success rate; None before any attempt
    low: float  # 95 % credible interval of the success rate (Beta(1, 1) prior)
    high: float
    mean_delta: float | None


def _row(
    arm: InterventionType, successes: float, failures: float, delta_sum: float | None
) -> PerformanceRow:
    attempts = successes + failures
    low, high = credible_interval(PRIOR_ALPHA + successes, PRIOR_BETA + failures)
    return PerformanceRow(
        type=arm,
        attempts=round(attempts),
        successes=round(successes),
        rate=successes / attempts if attempts else None,
        low=low,
        high=high,
        mean_delta=(delta_sum / attempts) if attempts and delta_sum is not None else None,
    )


def performance_by_type(
    store: InterventionStore, events: Iterable[str] | None = None
) -> list[PerformanceRow]:
    """Every type's measured record (every event unless `events` names some), from
    agent_performance."""
    found = store.performance_by_type(events)
    rows = []
    for arm in INTERVENTION_TYPES:
        stats = found.get(arm.value, {"attempts": 0.0, "successes": 0.0, "mean_delta": 0.0})
        failures = stats["attempts"] - stats["successes"]
        rows.append(
            _row(arm, stats["successes"], failures, stats["mean_delta"] * stats["attempts"])
        )
    return rows


def performance_in_context(
    posteriors: DatabasePosteriors, context: AgentContext
) -> list[PerformanceRow]:
    """Every type's record in one fine context (what the sampler sees there, loan excluded)."""
    records = posteriors.all_records([context.key])
    rows = []
    for arm in INTERVENTION_TYPES:
        record = records.get((context.key, arm))
        if record is None:
            rows.append(_row(arm, 0.0, 0.0, None))
        else:
            rows.append(_row(arm, record.successes, record.failures, record.delta_sum))
    return rows
