"""Contextual Thompson sampling over the intervention types, with Beta posteriors per context.

Each (context, type) pair holds a Beta posterior over "this type works here", updated only from
measured outcomes. A context is fine-grained (anomaly type x engagement x audience x deviation,
design §6): 108 of them would each need many episodes before they say anything, so a fine context
borrows up to `borrow` pseudo-observations from its parent (anomaly type x audience), which in turn
borrows from its own parent (anomaly type). With little data of its own a context follows its
parents; its own outcomes outweigh the loan once it has more than `borrow` of them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import beta as beta_distribution

from services.core.vocabulary import AgentContext, InterventionType

# Beta(1, 1): before any data every success rate is equally likely.
PRIOR_ALPHA = 1.0
PRIOR_BETA = 1.0
# A type with fewer measured attempts than this here is still being explored.
EXPLORING_BELOW = 3


@dataclass(frozen=True, slots=True)
class ArmRecord:
    """Measured outcomes of one intervention type in one context."""

    successes: float = 0.0
    failures: float = 0.0
    delta_sum: float = 0.0  # sum of engagement deltas, for the average shown to producers

    @property
    def attempts(self) -> float:
        return self.successes + self.failures

    @property
    def mean_delta(self) -> float | None:
        return self.delta_sum / self.attempts if self.attempts else None


EMPTY = ArmRecord()

Records = Mapping[tuple[str, InterventionType], ArmRecord]


def posterior(
    own: ArmRecord, parent: ArmRecord, borrow: float, grandparent: ArmRecord = EMPTY
) -> tuple[float, float]:
    """Beta(alpha, beta) of one fine context: Beta(1, 1) + its own outcomes + a loan of at most
    `borrow` observations at its parent's rate, where the parent's rate itself includes a loan
    from the grandparent. Each level lends only the others' outcomes (a coarser record includes
    the finer ones), so nothing is counted twice."""
    loan_s = loan_f = 0.0
    finer = parent
    for level in (grandparent, parent):
        # The outcomes of this level that are not in the next finer one (or in `own`).
        inner = finer if level is grandparent else own
        others_s = max(0.0, level.successes - inner.successes) + loan_s
        others_f = max(0.0, level.failures - inner.failures) + loan_f
        others = others_s + others_f
        if others > 0 and borrow > 0:
            weight = min(borrow, others) / others
            loan_s, loan_f = others_s * weight, others_f * weight
        else:
            loan_s = loan_f = 0.0
    return PRIOR_ALPHA + own.successes + loan_s, PRIOR_BETA + own.failures + loan_f


def credible_interval(alpha: float, beta_: float, level: float = 0.95) -> tuple[float, float]:
    """Equal-tailed credible interval of Beta(alpha, beta)."""
    tail = (1.0 - level) / 2.0
    low, high = beta_distribution.ppf([tail, 1.0 - tail], alpha, beta_)
    return float(low), float(high)


@dataclass(frozen=True, slots=True)
class ArmView:
    """What the agent knows about one type in one context when it decides."""

    type: InterventionType
    alpha: float
    beta: float
    own: ArmRecord
    sampled: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def exploring(self) -> bool:
        return self.own.attempts < EXPLORING_BELOW


@dataclass(frozen=True, slots=True)
class Choice:
    context: AgentContext
    type: InterventionType
    # The chosen type's posterior mean success rate: how likely it is to work here.
    confidence: float
    arms: tuple[ArmView, ...]

    @property
    def chosen(self) -> ArmView:
        return next(arm for arm in self.arms if arm.type is self.type)

    def reasoning(self, anomaly: str | None) -> str:
        """Plain words for the producer: what happened, where, the type's record, why this."""
        arm = self.chosen
        name = arm.type.replace("_", " ").lower()
        where = self.context.describe()
        lead = f"{anomaly}. Context: {where}." if anomaly else f"Context: {where}."
        attempts = int(arm.own.attempts)
        if attempts == 0:
            record = f"No {name} has been measured in this context yet"
        else:
            record = f"{name.capitalize()} worked {int(arm.own.successes)} of {attempts} times here"
        if arm.own.mean_delta is not None:
            record += f" (average engagement change {arm.own.mean_delta:+.2f})"
        low, high = credible_interval(arm.alpha, arm.beta)
        record += f"; estimated success {arm.mean:.0%}, likely between {low:.0%} and {high:.0%}."
        others = sorted(
            (other for other in self.arms if other.type is not arm.type),
            key=lambda other: -other.mean,
        )
        runner = (
            f" Next best: {others[0].type.replace('_', ' ').lower()} at {others[0].mean:.0%}."
            if others
            else ""
        )
        explore = (
            " Little is known here yet, so the choice is partly to learn." if arm.exploring else ""
        )
        return f"{lead} {record}{runner}{explore}"


class ThompsonSampler:
    def __init__(self, borrow: float = 4.0) -> None:
        if borrow < 0:
            raise ValueError("borrow must be >= 0")
        self.borrow = borrow

    def choose(
        self,
        context: AgentContext,
        records: Records,
        allowed: Sequence[InterventionType],
        rng: random.Random,
    ) -> Choice:
        """Draw once from each allowed type's posterior and take the highest draw."""
        if not allowed:
            raise ValueError("no intervention type is allowed")
        arms = []
        for arm_type in dict.fromkeys(allowed):
            alpha, beta_ = self._posterior(context, records, arm_type)
            own = records.get((context.key, arm_type), EMPTY)
            arms.append(ArmView(arm_type, alpha, beta_, own, rng.betavariate(alpha, beta_)))
        best = max(arms, key=lambda arm: arm.sampled)
        return Choice(context, best.type, best.mean, tuple(arms))

    def view(self, context: AgentContext, records: Records, arm_type: InterventionType) -> ArmView:
        """The posterior of one type without sampling (a producer's manual trigger)."""
        alpha, beta_ = self._posterior(context, records, arm_type)
        own = records.get((context.key, arm_type), EMPTY)
        return ArmView(arm_type, alpha, beta_, own, alpha / (alpha + beta_))

    def _posterior(
        self, context: AgentContext, records: Records, arm_type: InterventionType
    ) -> tuple[float, float]:
        return posterior(
            records.get((context.key, arm_type), EMPTY),
            records.get((context.parent_key, arm_type), EMPTY),
            self.borrow,
            records.get((context.grandparent_key, arm_type), EMPTY),
        )
