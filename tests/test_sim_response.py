"""The simulated audiences truly respond to the agent's interventions: the hidden truth has a
clear best arm in every context, and the best arm lifts chat (or wins back walkers) more than
the worst."""

from __future__ import annotations

from typing import Any

import pytest

from services.core.platform import CHAT_STREAM, LIVE_SYNC_STREAM
from services.core.vocabulary import InterventionType
from services.simulation.response import EFFECT_SECONDS, effect_fade
from services.simulation.simulator import Episode, EpisodeKind, SimSession
from services.simulation.truth_table import SEED_TABLE
from tests.sim_orders import T0, C, G, N, P, order, rooms, run
from tests.test_simulator import count, when


def to_all(sessions: list[SimSession], arm: InterventionType | None) -> list[dict[str, Any]]:
    return [] if arm is None else [order(arm, s.session_id) for s in sessions]


def test_the_truth_has_a_clear_best_arm_in_every_context() -> None:
    assert "".join(arm.value[0] for arm in (P, C, N, G)) == "PCNG"
    for kind in (None, *EpisodeKind):
        for present in (0, 5, 9, 10, 30, 49, 50, 300, 10_000):
            shares = sorted((SEED_TABLE.share(arm, kind, present), arm) for arm in InterventionType)
            assert all(0.0 <= share <= 1.0 for share, _ in shares)
            (second, _), (best, arm) = shares[-2:]
            assert best - second >= 0.15 - 1e-9, (kind, present)
            assert SEED_TABLE.best(kind, present) is arm
    assert SEED_TABLE.best(EpisodeKind.SUDDEN_DROP, 30) is C
    assert SEED_TABLE.best(EpisodeKind.SUDDEN_DROP, 50) is G
    assert SEED_TABLE.best(EpisodeKind.GRADUAL_DECLINE, 300) is G
    assert SEED_TABLE.best(EpisodeKind.LOW_ENGAGEMENT, 49) is C
    assert SEED_TABLE.best(EpisodeKind.LOW_ENGAGEMENT, 50) is P
    assert {SEED_TABLE.best(EpisodeKind.MASS_EXIT, n) for n in (3, 30, 300)} == {N}
    assert SEED_TABLE.share(C, EpisodeKind.LOW_ENGAGEMENT, 20) > SEED_TABLE.share(
        P, EpisodeKind.LOW_ENGAGEMENT, 20
    )
    assert [effect_fade(s) for s in (-1, 0, 59, 75, EFFECT_SECONDS)] == [0, 1, 1, 0.5, 0]


def test_a_chat_prompt_during_a_sudden_drop_lifts_chat_for_a_while() -> None:
    drop = Episode(EpisodeKind.SUDDEN_DROP, T0 + 300, T0 + 600)
    sessions = rooms(4, 300, drop)
    at = T0 + 330
    without, _, _ = run(sessions, T0 + 500)
    helped, sim, outcomes = run(sessions, T0 + 500, {at: to_all(sessions, C)})
    assert all(outcome["success"] for outcome in outcomes)
    # Same seed, same room: identical until the delivery.
    assert [e for e in helped if when(*e) < at] == [e for e in without if when(*e) < at]
    before = count(without, CHAT_STREAM, at, at + 60)
    after = count(helped, CHAT_STREAM, at, at + 60)
    assert before >= 20
    assert after >= 3 * before
    # The effect fades out within EFFECT_SECONDS; the drop goes on.
    late = count(helped, CHAT_STREAM, at + 100, at + 160)
    assert late <= 1.6 * count(without, CHAT_STREAM, at + 100, at + 160) + 20
    truth = sim.ground_truth_interventions()
    assert [(d.session_id, d.time, d.intervention_type) for d in truth] == [
        (s.session_id, at, C) for s in sessions
    ]
    expected = SEED_TABLE.share(C, EpisodeKind.SUDDEN_DROP, 300)
    assert all(d.episode_kind is EpisodeKind.SUDDEN_DROP for d in truth)
    assert all(d.rescue_share == expected and 280 <= d.present <= 300 for d in truth)


@pytest.mark.parametrize(
    ("kind", "audience", "n", "delay"),
    [
        (EpisodeKind.SUDDEN_DROP, 300, 4, 30),  # gamification is best in a big room
        (EpisodeKind.SUDDEN_DROP, 30, 8, 30),  # a chat prompt in a small one
        (EpisodeKind.LOW_ENGAGEMENT, 300, 4, 30),
        (EpisodeKind.GRADUAL_DECLINE, 300, 4, 200),
    ],
)
def test_the_best_arm_lifts_chat_more_than_the_worst(
    kind: EpisodeKind, audience: int, n: int, delay: float
) -> None:
    sessions = rooms(n, audience, Episode(kind, T0 + 300, T0 + 900))
    at = T0 + 300 + delay
    best = SEED_TABLE.best(kind, audience)
    worst = min(InterventionType, key=lambda arm: SEED_TABLE.share(arm, kind, audience))

    def chat(arm: InterventionType | None) -> int:
        events, _, outcomes = run(sessions, at + 60, {at: to_all(sessions, arm)})
        assert all(outcome["success"] for outcome in outcomes)
        return count(events, CHAT_STREAM, at, at + 60)

    baseline = chat(None)
    best_rise, worst_rise = chat(best) - baseline, chat(worst) - baseline
    assert baseline >= 30
    assert best_rise >= 0.5 * baseline
    assert best_rise >= 2 * max(worst_rise, 1)


def test_a_notification_wins_back_those_who_walked_out() -> None:
    exit_ = Episode(EpisodeKind.MASS_EXIT, T0 + 300, T0 + 420)
    sessions = rooms(2, 500, exit_)
    at = T0 + 320  # the walk-out is over

    def returns(arm: InterventionType | None) -> tuple[int, int]:
        events, _, _ = run(sessions, at + 60, {at: to_all(sessions, arm)})
        walked: set[str] = set()
        back = 0
        for stream, payload in events:
            if stream != LIVE_SYNC_STREAM or payload["type"] not in ("user_join", "user_leave"):
                continue
            t, user = when(stream, payload), payload["userId"]
            if payload["type"] == "user_leave" and exit_.start <= t < exit_.start + 10:
                walked.add(user)
            elif payload["type"] == "user_join" and user in walked and t >= at:
                back += 1
        return back, len(walked)

    alone, walked = returns(None)
    assert walked >= 0.6 * 500
    assert alone <= 0.05 * walked
    notified, _ = returns(N)
    polled, _ = returns(P)
    assert SEED_TABLE.best(EpisodeKind.MASS_EXIT, 490) is N
    assert notified >= 0.3 * walked
    assert notified >= 2.5 * polled
    assert polled > alone


def test_with_no_episode_an_intervention_gives_a_general_boost() -> None:
    sessions = rooms(12, 300)
    at = T0 + 200
    without, _, _ = run(sessions, at + 60)
    boosted, sim, _ = run(sessions, at + 60, {at: to_all(sessions, G)})
    usual = count(without, CHAT_STREAM, at, at + 60)
    assert count(boosted, CHAT_STREAM, at, at + 60) >= 1.1 * usual
    assert {d.episode_kind for d in sim.ground_truth_interventions()} == {None}
