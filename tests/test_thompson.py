"""Unit tests: the sampler's posteriors and choices, the reward formula, the guards, contexts."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import astuple
from datetime import UTC, datetime, timedelta

import pytest

from services.agent.guards import GuardLimits, refusal
from services.agent.posteriors import MemoryPosteriors
from services.agent.reward import RewardOutcome, RewardRule, judge
from services.agent.thompson import (
    ArmRecord,
    ArmView,
    Choice,
    LiftBelief,
    ThompsonSampler,
    context_baseline,
    credible_interval,
    lent,
    lift_posterior,
    posterior,
)
from services.core.vocabulary import AgentContext, InterventionType
from services.storage.interventions import ExecutionHistory

POLL, CHAT, NOTE, GAME = (
    InterventionType.POLL,
    InterventionType.CHAT_PROMPT,
    InterventionType.NOTIFICATION,
    InterventionType.GAMIFICATION,
)
ALL = (POLL, CHAT, NOTE, GAME)
CONTEXT = AgentContext.of("SUDDEN_DROP", 0.3, 120, -0.4)


def lifted(successes: float, failures: float, lift: float = 0.0, squares: float = 0.0) -> ArmRecord:
    """A record of outcomes by their lifts, what the sampler compares."""
    return ArmRecord(successes, failures, lift_sum=lift, lift_squares=squares)


def measured(delta: float, success: bool | None = None, before: float = 0.3) -> RewardOutcome:
    """One judged outcome; rooms that all start at 0.3 make its lift its change."""
    won = delta >= 0.03 if success is None else success
    return RewardOutcome(before, before + delta, delta, min(1.0, max(0.0, delta / 0.2)), won)


def test_contexts_bucket_as_the_design_says() -> None:
    assert CONTEXT.key == "SUDDEN_DROP|low|ge50|dev>=25%"
    assert AgentContext.of("MASS_EXIT", 0.05, 9, -0.05).key == "MASS_EXIT|very-low|lt10|dev<10%"
    assert AgentContext.of("LOW_ENGAGEMENT", 0.7, 49, 0.2).key == (
        "LOW_ENGAGEMENT|moderate+|lt50|dev<25%"
    )
    assert CONTEXT.parent_key == "SUDDEN_DROP|*|ge50|*"
    assert AgentContext.from_key(CONTEXT.key) == CONTEXT
    with pytest.raises(ValueError):
        AgentContext.from_key("no-bars")


def test_posterior_adds_outcomes_to_the_uniform_prior() -> None:
    assert posterior(ArmRecord(), ArmRecord(), borrow=4) == (1.0, 1.0)
    assert posterior(ArmRecord(3, 1), ArmRecord(3, 1), borrow=4) == (4.0, 2.0)


def test_a_sparse_context_borrows_at_most_the_loan_from_its_parent() -> None:
    # The parent saw 40 successes and 10 failures elsewhere: lend 4 observations at 80 %.
    alpha, beta = posterior(ArmRecord(0, 0), ArmRecord(40, 10), borrow=4)
    assert alpha == pytest.approx(1 + 3.2) and beta == pytest.approx(1 + 0.8)
    # Its own data is counted once: the parent's copy of it is not lent back.
    alpha, beta = posterior(ArmRecord(2, 0), ArmRecord(2, 0), borrow=4)
    assert (alpha, beta) == (3.0, 1.0)
    assert posterior(ArmRecord(), ArmRecord(40, 10), borrow=0) == (1.0, 1.0)


def test_a_sparse_context_also_borrows_what_its_grandparent_saw_elsewhere() -> None:
    # Nothing here or in this audience yet; the anomaly type saw 30 of 40 work elsewhere: the
    # parent borrows 4 observations at 75 %, and lends them on in full.
    assert posterior(ArmRecord(), ArmRecord(), 4, ArmRecord(30, 10)) == pytest.approx((4.0, 2.0))
    # The parent's own 2 successes elsewhere and its loan of 4 from the grandparent (whose 16
    # other outcomes are half successes) are 6 observations: 4 are lent, at their 4:2 mix.
    alpha, beta = posterior(ArmRecord(), ArmRecord(2, 0), 4, ArmRecord(10, 8))
    assert alpha == pytest.approx(1 + 8 / 3) and beta == pytest.approx(1 + 4 / 3)
    # The grandparent's record includes the parent's: those outcomes are lent only once.
    assert posterior(ArmRecord(), ArmRecord(3, 1), 4, ArmRecord(3, 1)) == pytest.approx((4.0, 2.0))


def test_a_single_outcome_elsewhere_is_lent_whole_and_a_loan_may_be_fractional() -> None:
    assert posterior(ArmRecord(), ArmRecord(1, 0), borrow=4) == (2.0, 1.0)
    alpha, beta = posterior(ArmRecord(), ArmRecord(40, 10), borrow=0.5)
    assert alpha == pytest.approx(1.4) and beta == pytest.approx(1.1)


def test_every_sum_is_lent_with_the_outcomes() -> None:
    # Ten outcomes elsewhere: +0.1 each on average, from 0.3, lifting 0.05 each.
    parent = ArmRecord(8, 2, 1.0, 0.5, 3.0, 0.5, 0.1)
    assert astuple(lent(ArmRecord(), parent, 4)) == pytest.approx(
        (3.2, 0.8, 0.4, 0.2, 1.2, 0.2, 0.04)
    )
    own = ArmRecord(1, 1, 0.1, 0.05, 0.4, 0.2, 0.03)
    assert astuple(lent(own, own + parent, 4)) == pytest.approx(
        (4.2, 1.8, 0.5, 0.25, 1.6, 0.4, 0.07)
    )
    # A coarser record holding a finer one's negative deltas and lifts lends only the others'.
    loan = lent(
        ArmRecord(0, 1, -0.2, 0.04, 0.5, -0.1, 0.01),
        ArmRecord(1, 1, -0.1, 0.05, 0.9, -0.3, 0.05),
        4,
    )
    assert astuple(loan) == pytest.approx((1, 1, -0.1, 0.05, 0.9, -0.3, 0.05))


def test_a_record_of_one_outcome_and_its_averages() -> None:
    one = ArmRecord.outcome(True, 0.1, 0.3, -0.05)
    assert astuple(one) == pytest.approx((1, 0, 0.1, 0.01, 0.3, -0.05, 0.0025))
    assert astuple(ArmRecord.outcome(False, -0.2, 0.5, 0.1)) == pytest.approx(
        (0, 1, -0.2, 0.04, 0.5, 0.1, 0.01)
    )
    two = one + ArmRecord.outcome(False, 0.0, 0.2, 0.15)
    assert (two.mean_delta, two.lift_sum / two.attempts) == pytest.approx((0.05, 0.05))
    assert ArmRecord().mean_delta is None


def test_the_baseline_is_the_mean_before_of_every_outcome_of_the_context_and_this_one() -> None:
    records = {
        (CONTEXT.key, CHAT): ArmRecord(2, 1, before_sum=0.9),  # three rooms from 0.3
        (CONTEXT.key, POLL): ArmRecord(0, 1, before_sum=0.5),
        (CONTEXT.parent_key, CHAT): ArmRecord(9, 9, before_sum=9.0),  # other contexts: not
        ("LOW_ENGAGEMENT|low|ge50|dev>=25%", POLL): ArmRecord(1, 0, before_sum=0.1),
    }
    assert context_baseline(records, CONTEXT.key, 0.2) == pytest.approx((0.9 + 0.5 + 0.2) / 5)
    # The first outcome of a context is its own baseline: its lift is then its change.
    assert context_baseline({}, CONTEXT.key, 0.42) == 0.42


def test_an_outcome_is_learnt_as_a_lift_over_its_context_baseline() -> None:
    book = MemoryPosteriors()
    book.learn(CONTEXT, CHAT, measured(0.1, before=0.2))  # baseline 0.2: lift +0.1
    book.learn(CONTEXT, POLL, measured(0.1, before=0.4))  # baseline 0.3: lift 0.5 - 0.3
    book.learn(CONTEXT, CHAT, measured(-0.2, before=0.6))  # baseline 0.4: lift 0.4 - 0.4
    own = book.records(CONTEXT)[(CONTEXT.key, CHAT)]
    assert astuple(own) == pytest.approx((1, 1, -0.1, 0.05, 0.8, 0.1, 0.01))
    # Every level counts it, with the same lift.
    assert book.records(CONTEXT)[(CONTEXT.parent_key, CHAT)] == own
    assert book.records(CONTEXT)[(CONTEXT.grandparent_key, POLL)].lift_sum == pytest.approx(0.2)
    # Another fine context's outcomes do not move this one's baseline.
    other = AgentContext.of("SUDDEN_DROP", 0.1, 120, -0.4)
    book.learn(other, POLL, measured(0.0, before=0.9))
    book.learn(CONTEXT, POLL, measured(0.0, before=0.4))  # baseline (1.2 + 0.4) / 4 = 0.4
    assert book.records(CONTEXT)[(CONTEXT.key, POLL)].lift_sum == pytest.approx(0.2)


def test_the_lift_posterior_shrinks_towards_no_change_and_learns_the_spread() -> None:
    # Before any outcome: no change expected, give or take the prior spread.
    assert lift_posterior(ArmRecord(), ArmRecord(), 4) == LiftBelief(0.0, 0.15, 1.0)
    # Four outcomes of exactly +0.1: the mean is shrunk by one outcome of no change, and the
    # spread is the prior's two outcomes' worth over six.
    four = lift_posterior(lifted(4, 0, 0.4, 0.04), lifted(4, 0, 0.4, 0.04), 4)
    assert four.mean == pytest.approx(0.4 / 5)
    assert four.spread == pytest.approx((2 * 0.15**2 / 6 / 5) ** 0.5)
    assert four.freedom == 5
    # Many scattered outcomes: their own spread, and a narrow posterior around their mean.
    many = lifted(200, 200, 400 * 0.05, 400 * (0.05**2 + 0.3**2))
    belief = lift_posterior(many, many, 4)
    assert belief.mean == pytest.approx(20 / 401)
    assert belief.spread == pytest.approx(((400 * 0.09 + 2 * 0.0225) / 402 / 401) ** 0.5)


def test_the_lift_posterior_borrows_from_the_parent_and_the_grandparent() -> None:
    # Nothing here; the parent's 2 outcomes of +0.1 and the grandparent's 10 others of +0.2:
    # the parent lends 4 of its 6 (its own and its loan of 4), 2/3 of their +1.0 in all.
    parent, grandparent = lifted(2, 0, 0.2, 0.02), lifted(12, 0, 2.2, 0.42)
    belief = lift_posterior(ArmRecord(), parent, 4, grandparent)
    assert belief.mean == pytest.approx((2 / 3) / 5)
    assert belief.freedom == 5
    assert lift_posterior(ArmRecord(), parent, 4).mean == pytest.approx(0.2 / 3)


def test_draws_of_the_change_have_heavier_tails_while_outcomes_are_few() -> None:
    rng = random.Random(2)
    few, many = LiftBelief(0.0, 0.1, 1.0), LiftBelief(0.0, 0.1, 400.0)
    far = [sum(abs(b.draw(rng)) > 0.3 for _ in range(4000)) for b in (few, many)]
    # Beyond three scales: about 20 % of a Cauchy's draws, 0.3 % of a normal's.
    assert 650 < far[0] < 950 and far[1] < 30
    # One draw: the mean plus the scale times a normal over the root of a chi-square by freedom.
    twin = random.Random(7)
    chi2 = 2.0 * twin.gammavariate(2.5, 1.0)
    expected = 0.05 + 0.1 * twin.gauss() / (chi2 / 5.0) ** 0.5
    assert LiftBelief(0.05, 0.1, 5.0).draw(random.Random(7)) == pytest.approx(expected)
    draws = [many.draw(rng) for _ in range(4000)]
    assert statistics.fmean(draws) == pytest.approx(0.0, abs=0.01)
    assert statistics.pstdev(draws) == pytest.approx(0.1, rel=0.05)


def test_the_larger_average_change_wins_where_both_types_work_as_often() -> None:
    book = MemoryPosteriors()
    for n in range(40):
        book.learn(CONTEXT, CHAT, measured(0.25 if n % 2 == 0 else -0.05, n % 2 == 0))
        book.learn(CONTEXT, POLL, measured(0.05 if n % 2 == 0 else -0.05, n % 2 == 0))
    sampler = ThompsonSampler()
    rng = random.Random(4)
    records = book.records(CONTEXT)
    picks = Counter(sampler.choose(CONTEXT, records, (CHAT, POLL), rng).type for _ in range(300))
    assert picks[CHAT] > 290
    views = {arm: sampler.view(CONTEXT, records, arm) for arm in (CHAT, POLL)}
    assert views[CHAT].mean == views[POLL].mean  # as likely to work, but it moves the room more
    assert views[CHAT].lift > views[POLL].lift + 0.05


def test_the_sampler_takes_no_negative_loan_and_needs_a_type_to_choose() -> None:
    assert ThompsonSampler(borrow=0).borrow == 0
    assert ThompsonSampler(borrow=0.5).borrow == 0.5
    with pytest.raises(ValueError) as caught:
        ThompsonSampler(borrow=-1)
    assert str(caught.value) == "borrow must be >= 0"
    with pytest.raises(ValueError) as caught:
        ThompsonSampler().choose(CONTEXT, {}, (), random.Random(0))
    assert str(caught.value) == "no intervention type is allowed"


def test_a_manual_trigger_sees_the_posterior_of_its_type_from_all_three_levels() -> None:
    records = {
        (CONTEXT.key, GAME): lifted(2, 1, 0.3),
        (CONTEXT.parent_key, GAME): lifted(2, 1, 0.3),
        (CONTEXT.grandparent_key, GAME): lifted(12, 1, 1.0),  # 10 of 10 in other audiences
        (CONTEXT.key, POLL): lifted(0, 5, -0.2),
    }
    view = ThompsonSampler(borrow=4).view(CONTEXT, records, GAME)
    assert (view.type, view.own) == (GAME, lifted(2, 1, 0.3))
    assert (view.alpha, view.beta) == pytest.approx((1 + 2 + 4, 1 + 1))
    assert view.mean == pytest.approx(7 / 9)
    # Its average lift: its own +0.3 over 3 and the loan of 4 outcomes at the grandparent's
    # other +0.07 each, shrunk by one outcome of no lift. No draw: the posterior mean.
    assert view.sampled == view.lift == pytest.approx((0.3 + 4 * 0.07) / 8)
    untried = ThompsonSampler(borrow=4).view(CONTEXT, records, NOTE)
    assert (untried.own, untried.mean, untried.exploring) == (ArmRecord(), 0.5, True)
    # The same posterior as a sampled choice sees.
    choice = ThompsonSampler(borrow=4).choose(CONTEXT, records, (GAME,), random.Random(1))
    assert (choice.chosen.alpha, choice.chosen.beta) == (view.alpha, view.beta)
    assert choice.chosen.lift == view.lift


def test_credible_interval_matches_known_beta_quantiles() -> None:
    low, high = credible_interval(1, 1)
    assert low == pytest.approx(0.025) and high == pytest.approx(0.975)
    low, high = credible_interval(10, 2)
    assert 0.55 < low < 0.65 and 0.95 < high < 0.99
    assert credible_interval(50, 50)[1] - credible_interval(50, 50)[0] < 0.2


def test_choices_respect_the_allowed_types() -> None:
    sampler = ThompsonSampler()
    rng = random.Random(1)
    for _ in range(200):
        choice = sampler.choose(CONTEXT, {}, (NOTE, GAME), rng)
        assert choice.type in (NOTE, GAME)
        assert {arm.type for arm in choice.arms} == {NOTE, GAME}
    with pytest.raises(ValueError):
        sampler.choose(CONTEXT, {}, (), rng)


def test_choices_are_reproducible_with_a_seed() -> None:
    sampler = ThompsonSampler()
    first = [sampler.choose(CONTEXT, {}, ALL, random.Random(5)).type for _ in range(3)]
    again = [sampler.choose(CONTEXT, {}, ALL, random.Random(5)).type for _ in range(3)]
    assert first == again
    rng = random.Random(9)
    spread = Counter(sampler.choose(CONTEXT, {}, ALL, rng).type for _ in range(400))
    assert set(spread) == set(ALL)  # without data every type gets explored


def test_learning_concentrates_choices_on_what_works() -> None:
    book = MemoryPosteriors()
    for n in range(30):
        book.learn(CONTEXT, CHAT, measured(0.1, n % 10 != 0))
        book.learn(CONTEXT, POLL, measured(-0.01, n % 10 == 0))
    sampler = ThompsonSampler()
    rng = random.Random(3)
    picks = Counter(
        sampler.choose(CONTEXT, book.records(CONTEXT), ALL, rng).type for _ in range(300)
    )
    # The untried types still get explored: a draw of no change, give or take 0.15, beats
    # chat's +0.10 about one time in four.
    assert picks[CHAT] > 130 and picks[POLL] < 10
    assert 40 < picks[NOTE] < 100 and 40 < picks[GAME] < 100
    choice = sampler.choose(CONTEXT, book.records(CONTEXT), (CHAT,), rng)
    assert choice.confidence == pytest.approx(28 / 32)
    text = choice.reasoning("Chat fell by 80 %")
    assert "worked 27 of 30 times here" in text and "Little is known" not in text
    assert "Chat fell by 80 %" in text


def test_a_new_fine_context_starts_from_its_parents_record() -> None:
    book = MemoryPosteriors()
    elsewhere = AgentContext.of("SUDDEN_DROP", 0.5, 200, -0.15)  # same parent, other bucket
    assert elsewhere.parent_key == CONTEXT.parent_key and elsewhere.key != CONTEXT.key
    for _ in range(20):
        book.learn(elsewhere, GAME, measured(0.1, True))
        book.learn(elsewhere, POLL, measured(-0.05, False))
    sampler = ThompsonSampler()
    choice = sampler.choose(CONTEXT, book.records(CONTEXT), (GAME, POLL), random.Random(0))
    by_type = {arm.type: arm for arm in choice.arms}
    assert by_type[GAME].mean == pytest.approx(5 / 6) and by_type[POLL].mean == pytest.approx(1 / 6)
    assert by_type[GAME].exploring  # nothing of its own yet


def test_reasoning_states_the_record_the_estimate_and_the_next_best_type() -> None:
    arms = (
        ArmView(POLL, 3, 9, ArmRecord(2, 8, -0.1), -0.01, 0.2),
        ArmView(CHAT, 28, 4, ArmRecord(27, 3, 3.0), 0.097, 0.09),
        ArmView(GAME, 2, 6, ArmRecord(), 0.02, 0.1),
        ArmView(NOTE, 6, 4, ArmRecord(), 0.04, 0.05),
    )
    text = Choice(CONTEXT, CHAT, 28 / 32, arms).reasoning("Chat fell by 80 %")
    assert text == (
        "Chat fell by 80 %. Context: sudden drop, engagement 0.20-0.40, 50 or more people "
        "present, score 25 % or more off what was expected. Chat prompt worked 27 of 30 times "
        "here (average engagement change +0.10); estimated success 88%, likely between 74% and "
        "96%. Expected lift here +0.10 over where rooms like this stood. Next best: notification, "
        "expected lift +0.04."
    )


def test_reasoning_without_data_or_anomaly_says_so_and_that_it_explores() -> None:
    lone = Choice(CONTEXT, CHAT, 0.5, (ArmView(CHAT, 1, 1, ArmRecord(), 0.0, 0.7),))
    assert lone.reasoning(None) == (
        "Context: sudden drop, engagement 0.20-0.40, 50 or more people present, score 25 % or "
        "more off what was expected. No chat prompt has been measured in this context yet; "
        "estimated success 50%, likely between 3% and 98%. Expected lift here +0.00 over where "
        "rooms like this stood. Little is known here yet, so the choice is partly to learn."
    )
    # The runner-up in words, as the chosen type is.
    pair = (
        ArmView(POLL, 1, 1, ArmRecord(), 0.0, 0.4),
        ArmView(CHAT, 3, 1, ArmRecord(), -0.03, 0.3),
    )
    assert "Next best: chat prompt, expected lift -0.03." in (
        Choice(CONTEXT, POLL, 0.5, pair).reasoning(None)
    )
    once = Choice(CONTEXT, GAME, 0.5, (ArmView(GAME, 2, 1, ArmRecord(1, 0, 0.04), 0.02, 0.7),))
    assert "Gamification worked 1 of 1 times here (average engagement change +0.04)" in (
        once.reasoning(None)
    )


@pytest.mark.parametrize(
    ("before", "after", "delta", "reward", "success"),
    [
        ([0.30, 0.30], [0.45, 0.45], 0.15, 0.75, True),
        ([0.30], [0.60], 0.30, 1.0, True),  # full credit is capped
        ([0.30], [0.32], 0.02, 0.10, False),  # below the success threshold of 0.03
        ([0.40], [0.30], -0.10, 0.0, False),
    ],
)
def test_reward_formula(
    before: list[float], after: list[float], delta: float, reward: float, success: bool
) -> None:
    outcome = judge(before, after, RewardRule())
    assert outcome is not None
    assert outcome.delta == pytest.approx(delta)
    assert outcome.reward == pytest.approx(reward)
    assert outcome.success is success


def test_reward_ignores_bad_values_and_needs_both_windows() -> None:
    assert judge([], [0.5], RewardRule()) is None
    assert judge([float("nan")], [0.5], RewardRule()) is None
    outcome = judge([0.2, float("inf")], [0.3], RewardRule())
    assert outcome is not None and outcome.before == pytest.approx(0.2)
    with pytest.raises(ValueError):
        RewardRule(delay_seconds=20, after_seconds=30)


def test_a_lift_of_exactly_the_success_threshold_is_a_success() -> None:
    outcome = judge([0.25], [0.5], RewardRule(success_delta=0.25, full_credit_delta=0.5))
    assert outcome is not None
    assert (outcome.before, outcome.after, outcome.delta) == (0.25, 0.5, 0.25)
    assert (outcome.reward, outcome.success) == (0.5, True)


def test_the_stored_outcome_names_each_number_rounded() -> None:
    outcome = judge([0.123456], [0.234567], RewardRule())
    assert outcome is not None
    assert outcome.as_json() == {
        "engagement_before": 0.1235,
        "engagement_after": 0.2346,
        "delta": 0.1111,
        "reward": 0.5556,
        "success": True,
    }


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"delay_seconds": 0}, "reward windows must be positive"),
        ({"before_seconds": 0}, "reward windows must be positive"),
        ({"after_seconds": 0}, "reward windows must be positive"),
        ({"after_seconds": -5}, "reward windows must be positive"),
        (
            {"delay_seconds": 20, "after_seconds": 30},
            "the after-window must fit inside the measurement delay",
        ),
        ({"full_credit_delta": 0}, "full_credit_delta must be positive"),
    ],
)
def test_reward_rules_that_cannot_measure_are_refused_with_the_reason(
    rule: dict[str, float], reason: str
) -> None:
    with pytest.raises(ValueError) as caught:
        RewardRule(**rule)
    assert str(caught.value) == reason


def test_short_reward_windows_and_an_after_window_filling_the_delay_are_fine() -> None:
    rule = RewardRule(delay_seconds=0.5, before_seconds=0.5, after_seconds=0.5)
    assert rule.after_seconds == rule.delay_seconds


def test_the_room_is_judged_30_to_90_s_after_and_a_deployment_s_delay_keeps_the_thirds() -> None:
    rule = RewardRule()
    assert (rule.before_seconds, rule.delay_seconds, rule.after_seconds) == (30, 90, 60)
    assert RewardRule.for_delay(90) == rule
    shorter = RewardRule.for_delay(60)
    assert (shorter.delay_seconds, shorter.after_seconds) == (60, 40)
    assert RewardRule.for_delay(3600).after_seconds == 2400


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
QUIET = ExecutionHistory(session_last=None, session_recent=0, event_hour=0, type_last={})


def test_guards_pass_a_quiet_session() -> None:
    assert refusal(QUIET, POLL, ALL, 3, NOW, GuardLimits()) is None


@pytest.mark.parametrize(
    ("history", "arm", "allowed", "cap", "expected"),
    [
        (QUIET, POLL, (CHAT,), 3, "not among the event's allowed types"),
        (
            ExecutionHistory(NOW - timedelta(seconds=10), 1, 1, {}),
            POLL,
            ALL,
            3,
            "one intervention per 30 s",
        ),
        (
            ExecutionHistory(NOW - timedelta(seconds=40), 10, 1, {}),
            POLL,
            ALL,
            50,
            "10 interventions",
        ),
        (ExecutionHistory(None, 0, 3, {}), POLL, ALL, 3, "hourly cap of 3"),
        (
            ExecutionHistory(
                NOW - timedelta(seconds=90), 1, 1, {POLL: NOW - timedelta(seconds=90)}
            ),
            POLL,
            ALL,
            3,
            "POLL cooldown: 120 s",
        ),
    ],
)
def test_each_guard_refuses_with_its_reason(
    history: ExecutionHistory,
    arm: InterventionType,
    allowed: tuple[InterventionType, ...],
    cap: int,
    expected: str,
) -> None:
    reason = refusal(history, arm, allowed, cap, NOW, GuardLimits())
    assert reason is not None and expected in reason


def test_another_types_cooldown_does_not_block() -> None:
    history = ExecutionHistory(
        NOW - timedelta(seconds=90), 1, 1, {POLL: NOW - timedelta(seconds=90)}
    )
    assert refusal(history, CHAT, ALL, 3, NOW, GuardLimits()) is None


def test_a_refused_type_hears_which_types_the_event_allows() -> None:
    assert refusal(QUIET, POLL, (CHAT, NOTE), 3, NOW, GuardLimits()) == (
        "POLL is not among the event's allowed types (CHAT_PROMPT, NOTIFICATION)"
    )
    assert refusal(QUIET, POLL, (), 3, NOW, GuardLimits()) == (
        "POLL is not among the event's allowed types (none)"
    )


def test_the_session_rate_limits_say_when_and_how_many() -> None:
    limits = GuardLimits()
    just_before = ExecutionHistory(NOW - timedelta(seconds=29), 1, 1, {})
    assert refusal(just_before, POLL, ALL, 3, NOW, limits) == (
        "rate limit: one intervention per 30 s in a session; next possible in 1 s"
    )
    on_time = ExecutionHistory(NOW - timedelta(seconds=30), 1, 1, {})
    assert refusal(on_time, POLL, ALL, 3, NOW, limits) is None
    burst = ExecutionHistory(NOW - timedelta(seconds=40), 10, 1, {})
    assert refusal(burst, POLL, ALL, 50, NOW, limits) == (
        "rate limit: 10 interventions per 5 min in a session reached"
    )
    capped = ExecutionHistory(None, 0, 3, {})
    assert refusal(capped, POLL, ALL, 3, NOW, limits) == (
        "the event's hourly cap of 3 interventions is reached"
    )


@pytest.mark.parametrize(("arm", "cooldown"), [(POLL, 120), (CHAT, 60), (NOTE, 300), (GAME, 180)])
def test_each_type_waits_its_own_cooldown_and_not_a_second_longer(
    arm: InterventionType, cooldown: int
) -> None:
    def after(seconds: int) -> str | None:
        history = ExecutionHistory(None, 1, 1, {arm: NOW - timedelta(seconds=seconds)})
        return refusal(history, arm, ALL, 3, NOW, GuardLimits())

    assert after(cooldown - 1) == (
        f"{arm} cooldown: {cooldown} s between two in a session; 1 s left"
    )
    assert after(cooldown) is None


def test_a_refusal_never_says_the_wait_is_zero_seconds() -> None:
    # Rounding the wait to the nearest second told producers "next possible in 0 s".
    nearly = NOW - timedelta(seconds=29, milliseconds=700)
    short = ExecutionHistory(nearly, 1, 1, {})
    assert refusal(short, POLL, ALL, 3, NOW, GuardLimits()) == (
        "rate limit: one intervention per 30 s in a session; next possible in 1 s"
    )
    cooling = ExecutionHistory(None, 1, 1, {POLL: NOW - timedelta(seconds=119.6)})
    assert refusal(cooling, POLL, ALL, 3, NOW, GuardLimits()) == (
        "POLL cooldown: 120 s between two in a session; 1 s left"
    )


def test_a_type_without_a_cooldown_may_run_again_at_once() -> None:
    history = ExecutionHistory(None, 1, 1, {CHAT: NOW - timedelta(milliseconds=500)})
    limits = GuardLimits(cooldowns={POLL: 120.0})
    assert refusal(history, CHAT, ALL, 3, NOW, limits) is None


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (
            "NONE|very-low|lt10|dev<10%",
            "no anomaly open, engagement under 0.20, fewer than 10 people present, "
            "score within 10 % of what was expected",
        ),
        (
            "MASS_EXIT|moderate+|lt50|dev<25%",
            "mass exit, engagement 0.40 or more, 10-49 people present, "
            "score 10-25 % off what was expected",
        ),
        # A key of a newer version names buckets this one does not know: shown as they are.
        ("SUDDEN_DROP|high|huge|dev?", "sudden drop, engagement high, audience huge, dev?"),
    ],
)
def test_a_context_is_described_in_plain_words(key: str, words: str) -> None:
    assert AgentContext.from_key(key).describe() == words
