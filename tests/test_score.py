"""The score formula of design §5, with the idle-poll redistribution."""

from __future__ import annotations

import math

import pytest

from services.core.settings import ScoreWeights
from services.ingest.score import category_of, score_signals
from services.ingest.windows import SessionSignals


def signals(**values: float) -> SessionSignals:
    base = {
        "chat_msgs_per_min": 0.0,
        "poll_participation": 0.0,
        "active_users": 0,
        "total_users": 0,
        "reactions_per_min": 0.0,
        "user_leave_rate": 0.0,
        "poll_active": True,
    }
    base.update(values)
    return SessionSignals(**base)  # type: ignore[arg-type]


def test_formula_matches_the_seed_definition_while_a_poll_runs() -> None:
    s = signals(
        chat_msgs_per_min=5,
        poll_participation=0.5,
        active_users=30,
        total_users=100,
        reactions_per_min=3,
        user_leave_rate=0.1,
    )
    expected = (
        0.30 * math.log(6) / math.log(21)
        + 0.25 * 0.5
        + 0.25 * 0.3
        + 0.10 * math.log(4) / math.log(11)
        - 0.10 * 0.1
    )
    assert score_signals(s, ScoreWeights()).score == pytest.approx(expected)


def test_rates_saturate_at_their_caps_and_the_score_stays_in_bounds() -> None:
    full = signals(
        chat_msgs_per_min=500,
        poll_participation=1,
        active_users=10,
        total_users=10,
        reactions_per_min=500,
    )
    assert score_signals(full, ScoreWeights()).score == pytest.approx(0.9)
    gone = signals(user_leave_rate=1.0, total_users=10)
    assert score_signals(gone, ScoreWeights()).score == 0.0


def test_without_a_poll_its_weight_is_shared_by_the_other_positive_terms() -> None:
    s = signals(
        chat_msgs_per_min=20,
        active_users=10,
        total_users=10,
        reactions_per_min=10,
        poll_active=False,
    )
    assert score_signals(s, ScoreWeights()).score == pytest.approx(
        0.9
    )  # same ceiling as with a poll
    kept = ScoreWeights(redistribute_idle_poll_weight=False)
    assert score_signals(s, kept).score == pytest.approx(0.65)


def test_empty_room_scores_zero_without_dividing_by_zero() -> None:
    result = score_signals(signals(poll_active=False), ScoreWeights())
    assert result.score == 0.0
    assert result.category == "VERY_LOW"
    assert result.breakdown["active_ratio"] == 0.0


@pytest.mark.parametrize(
    ("score", "category"),
    [
        (0.0, "VERY_LOW"),
        (0.19, "VERY_LOW"),
        (0.2, "LOW"),
        (0.4, "MODERATE"),
        (0.6, "HIGH"),
        (0.79, "HIGH"),
        (0.8, "VERY_HIGH"),
        (1.0, "VERY_HIGH"),
    ],
)
def test_categories_follow_the_bands(score: float, category: str) -> None:
    assert category_of(score) == category


def test_the_breakdown_shows_each_term_as_it_entered_the_score() -> None:
    s = signals(
        chat_msgs_per_min=5,
        poll_participation=0.5,
        active_users=10,
        total_users=30,
        reactions_per_min=3,
        user_leave_rate=0.1,
    )
    result = score_signals(s, ScoreWeights())
    assert result.breakdown == {
        "chat": 0.17656,  # 0.30 * ln 6 / ln 21
        "poll": 0.125,
        "active": 0.08333,  # 0.25 * 10/30
        "reactions": 0.05781,  # 0.10 * ln 4 / ln 11
        "leave": -0.01,
        "active_ratio": 0.33333,
    }
    assert result.score == pytest.approx(0.17656 + 0.125 + 0.08333 + 0.05781 - 0.01, abs=1e-4)


def test_without_a_poll_a_stale_participation_counts_for_nothing() -> None:
    s = signals(poll_participation=0.4, active_users=5, total_users=10, poll_active=False)
    result = score_signals(s, ScoreWeights())
    assert result.breakdown["poll"] == 0.0
    assert result.score == pytest.approx(0.5 * 0.25 * 0.9 / 0.65)  # active's share, scaled up


def test_a_score_of_only_the_poll_is_zero_while_no_poll_runs() -> None:
    # The settings accept these weights: nothing is left to share the poll's weight out to.
    only_poll = ScoreWeights(chat=0, poll=1, active=0, reactions=0)
    s = signals(chat_msgs_per_min=20, active_users=10, total_users=10, poll_active=False)
    assert score_signals(s, only_poll).score == 0.0
    assert score_signals(signals(poll_participation=0.6), only_poll).score == pytest.approx(0.6)


def test_weights_that_sum_past_one_still_give_a_score_of_at_most_one() -> None:
    heavy = ScoreWeights(chat=1, poll=1, active=1, reactions=1)
    full = signals(
        chat_msgs_per_min=20,
        poll_participation=1,
        active_users=10,
        total_users=10,
        reactions_per_min=10,
    )
    result = score_signals(full, heavy)
    assert (result.score, result.category) == (1.0, "VERY_HIGH")


@pytest.mark.parametrize("score", [-0.01, float("nan")])
def test_a_score_below_every_band_is_very_low(score: float) -> None:
    assert category_of(score) == "VERY_LOW"


def test_attention_enters_the_score_only_with_its_weight() -> None:
    """#17: weight 0 by default, so the seed's formula stays; the breakdown shows the share."""
    room = {
        "chat_msgs_per_min": 5,
        "poll_participation": 0.5,
        "active_users": 10,
        "total_users": 30,
        "reactions_per_min": 3,
        "user_leave_rate": 0.1,
    }
    s = signals(**room, attention={"active": 6, "hidden": 2})  # type: ignore[arg-type]
    seed = score_signals(s, ScoreWeights())
    plain = score_signals(signals(**room), ScoreWeights())
    assert seed.score == plain.score and "attention" not in seed.breakdown
    assert seed.breakdown["attentive_share"] == 0.75
    weighted = score_signals(s, ScoreWeights(attention=0.2))
    assert weighted.breakdown["attention"] == pytest.approx(0.15)  # 0.2 * 6/8
    assert weighted.score == pytest.approx(seed.score + 0.15)


def test_an_attention_weight_without_reports_goes_to_the_other_terms() -> None:
    """A platform that sends no attention is not marked down for it."""
    s = signals(chat_msgs_per_min=5, active_users=10, total_users=30, reactions_per_min=3)
    weights = ScoreWeights(attention=0.25)
    result = score_signals(s, weights)
    assert result.breakdown["attention"] == 0.0 and "attentive_share" not in result.breakdown
    # chat, poll, active and reactions share the 0.25 in proportion to their own weights.
    scale = (0.30 + 0.25 + 0.25 + 0.10 + 0.25) / (0.30 + 0.25 + 0.25 + 0.10)
    expected = score_signals(s, ScoreWeights()).score * scale
    assert result.score == pytest.approx(expected)
    idle_poll = score_signals(signals(poll_active=False, chat_msgs_per_min=5), weights)
    only_chat = 0.30 * math.log(6) / math.log(21)
    assert idle_poll.score == pytest.approx(
        only_chat * (0.30 + 0.25 + 0.25 + 0.10 + 0.25) / (0.30 + 0.25 + 0.10)
    )
