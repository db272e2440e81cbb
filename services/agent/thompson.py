"""Contextual Thompson sampling over the intervention types, per context.

Each (context, type) pair counts its measured outcomes: how often engagement rose (a Beta
posterior over "this type works here", which producers read as the confidence), by how much
(the engagement changes, shown to producers), and its *lift*: the engagement after it against
the level where rooms of its context stood before an intervention (`context_baseline`). The
choice is a draw from each type's posterior of its average lift (Student's t: normal outcomes of
unknown spread). Within a context every type starts from rooms alike, so the context's usual
level is a fairer starting line than each room's own 30 s before, which carries that room's
noise into every outcome (docs/agent.md, "Why the lift").

A context is fine-grained (anomaly type x engagement x audience x deviation, design §6): 108 of
them would each need many episodes before they say anything, so a fine context borrows up to
`borrow` outcomes from its parent (anomaly type x audience), which in turn borrows from its own
parent (anomaly type). With little data of its own a context follows its parents; its own
outcomes outweigh the loan once it has more than `borrow` of them.
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
# The lift posterior's prior: one outcome of no lift, and a spread of an outcome (worth two
# outcomes) about what the simulator's rooms show, 0.10-0.15 by anomaly type.
PRIOR_OUTCOMES = 1.0
PRIOR_SPREAD = 0.15
SPREAD_WEIGHT = 2.0
# A type with fewer measured attempts than this here is still being explored.
EXPLORING_BELOW = 3


@dataclass(frozen=True, slots=True)
class ArmRecord:
    """Measured outcomes of one intervention type in one context."""

    successes: float = 0.0
    failures: float = 0.0
    delta_sum: float = 0.0  # sum of engagement deltas
    delta_squares: float = 0.0  # sum of their squares
    before_sum: float = 0.0  # sum of the engagement before each: the context's usual level
    lift_sum: float = 0.0  # sum of lifts, what the sampler compares
    lift_squares: float = 0.0  # sum of their squares: how much one outcome says

    @classmethod
    def outcome(cls, success: bool, delta: float, before: float, lift: float) -> ArmRecord:
        """One measured outcome."""
        return cls(
            float(success), float(not success), delta, delta * delta, before, lift, lift * lift
        )

    @property
    def attempts(self) -> float:
        return self.successes + self.failures

    @property
    def mean_delta(self) -> float | None:
        return self.delta_sum / self.attempts if self.attempts else None

    def __add__(self, other: ArmRecord) -> ArmRecord:
        return ArmRecord(
            self.successes + other.successes,
            self.failures + other.failures,
            self.delta_sum + other.delta_sum,
            self.delta_squares + other.delta_squares,
            self.before_sum + other.before_sum,
            self.lift_sum + other.lift_sum,
            self.lift_squares + other.lift_squares,
        )

    def __sub__(self, other: ArmRecord) -> ArmRecord:
        """The outcomes of a coarser record that are not in `other` (a finer one inside it)."""
        return ArmRecord(
            max(0.0, self.successes - other.successes),
            max(0.0, self.failures - other.failures),
            self.delta_sum - other.delta_sum,
            max(0.0, self.delta_squares - other.delta_squares),
            self.before_sum - other.before_sum,
            self.lift_sum - other.lift_sum,
            max(0.0, self.lift_squares - other.lift_squares),
        )

    def scaled(self, weight: float) -> ArmRecord:
        return ArmRecord(
            self.successes * weight,
            self.failures * weight,
            self.delta_sum * weight,
            self.delta_squares * weight,
            self.before_sum * weight,
            self.lift_sum * weight,
            self.lift_squares * weight,
        )


EMPTY = ArmRecord()

Records = Mapping[tuple[str, InterventionType], ArmRecord]


def context_baseline(records: Records, context_key: str, before: float) -> float:
    """Where rooms of this context stand before an intervention: the mean engagement before
    every outcome measured in it, of every type, and of the one being learnt. A lift is measured
    from here rather than from the room's own before, which within a context says almost nothing
    about the after but carries its own noise (docs/agent.md, "Why the lift")."""
    total, count = before, 1.0
    for (key, _), record in records.items():
        if key == context_key:
            total += record.before_sum
            count += record.attempts
    return total / count


def lent(
    own: ArmRecord, parent: ArmRecord, borrow: float, grandparent: ArmRecord = EMPTY
) -> ArmRecord:
    """A fine context's outcomes with a loan of at most `borrow` outcomes at its parent's
    averages, where the parent's averages themselves include a loan from the grandparent. Each
    level lends only the others' outcomes (a coarser record includes the finer ones), so nothing
    is counted twice."""
    loan = EMPTY
    for level, inner in ((grandparent, parent), (parent, own)):
        others = (level - inner) + loan
        if others.attempts > 0:
            loan = others.scaled(min(borrow, others.attempts) / others.attempts)
        else:
            loan = EMPTY
    return own + loan


def posterior(
    own: ArmRecord, parent: ArmRecord, borrow: float, grandparent: ArmRecord = EMPTY
) -> tuple[float, float]:
    """Beta(alpha, beta) of "this type works here" in one fine context: Beta(1, 1) + its own
    outcomes + the loan (`lent`)."""
    return _beta(lent(own, parent, borrow, grandparent))


def _beta(known: ArmRecord) -> tuple[float, float]:
    return PRIOR_ALPHA + known.successes, PRIOR_BETA + known.failures


@dataclass(frozen=True, slots=True)
class LiftBelief:
    """The posterior of a type's average lift in a context: Student's t."""

    mean: float
    spread: float  # its scale (the standard error of the mean)
    freedom: float  # degrees of freedom: few outcomes, heavy tails

    def draw(self, rng: random.Random) -> float:
        chi2 = 2.0 * rng.gammavariate(self.freedom / 2.0, 1.0)
        return self.mean + self.spread * rng.gauss() / (chi2 / self.freedom) ** 0.5


def lift_posterior(
    own: ArmRecord, parent: ArmRecord, borrow: float, grandparent: ArmRecord = EMPTY
) -> LiftBelief:
    """The type's average lift here: its own outcomes and the loan (`lent`), shrunk towards no
    lift by PRIOR_OUTCOMES, with the outcomes' spread estimated from their squares and
    SPREAD_WEIGHT outcomes of PRIOR_SPREAD."""
    return _belief(lent(own, parent, borrow, grandparent))


def _belief(known: ArmRecord) -> LiftBelief:
    n = known.attempts
    spread_sum = known.lift_squares - known.lift_sum**2 / n if n else 0.0
    variance = (max(0.0, spread_sum) + SPREAD_WEIGHT * PRIOR_SPREAD**2) / (n + SPREAD_WEIGHT)
    weight = n + PRIOR_OUTCOMES
    return LiftBelief(known.lift_sum / weight, (variance / weight) ** 0.5, n + SPREAD_WEIGHT - 1.0)


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
    lift: float  # the posterior mean of its average lift here
    sampled: float  # the draw of that average the choice compared

    @property
    def mean(self) -> float:
        """Posterior mean success rate: how likely it is to work here."""
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
        record += f" Expected lift here {arm.lift:+.2f} over where rooms like this stood."
        others = sorted(
            (other for other in self.arms if other.type is not arm.type),
            key=lambda other: -other.lift,
        )
        runner = (
            f" Next best: {others[0].type.replace('_', ' ').lower()}, expected lift "
            f"{others[0].lift:+.2f}."
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
        """Draw once from each allowed type's posterior of its average lift and take
        the highest draw. The confidence is the chosen type's posterior success rate."""
        if not allowed:
            raise ValueError("no intervention type is allowed")
        arms = [self._view(context, records, arm_type, rng) for arm_type in dict.fromkeys(allowed)]
        best = max(arms, key=lambda arm: arm.sampled)
        return Choice(context, best.type, best.mean, tuple(arms))

    def view(self, context: AgentContext, records: Records, arm_type: InterventionType) -> ArmView:
        """The posterior of one type without sampling (a producer's manual trigger)."""
        return self._view(context, records, arm_type, None)

    def _view(
        self,
        context: AgentContext,
        records: Records,
        arm_type: InterventionType,
        rng: random.Random | None,
    ) -> ArmView:
        own = records.get((context.key, arm_type), EMPTY)
        known = lent(
            own,
            records.get((context.parent_key, arm_type), EMPTY),
            self.borrow,
            records.get((context.grandparent_key, arm_type), EMPTY),
        )
        alpha, beta_ = _beta(known)
        lift = _belief(known)
        sampled = lift.mean if rng is None else lift.draw(rng)
        return ArmView(arm_type, alpha, beta_, own, lift.mean, sampled)
