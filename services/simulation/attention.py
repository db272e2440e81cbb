"""Simulated attention (design §2's optional signal): each present viewer's tab and idle state,
which follows the room's activity, so viewers look away during a lull or a drop.

A viewer redraws their state now and then (on average every DWELL_SECONDS) from a chance of
looking that falls with the room's activity; a change is reported at once, and every viewer
reports their state again at least every REFRESH_SECONDS, as the platform does.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from services.simulation.audience import poisson

ATTENTIVE = "active"
# Of a room at full activity, the viewers looking at the stage; at no activity, this much of it.
ATTENTIVE_SHARE = 0.85
LOOK_AWAY_FLOOR = 0.3
DWELL_SECONDS = 6.0
REFRESH_SECONDS = 30.0
# How a viewer who is not looking is not looking.
ELSEWHERE = ("idle", "hidden", "away")
ELSEWHERE_WEIGHTS = (0.45, 0.4, 0.15)

REDRAW, REFRESH = "redraw", "refresh"

PickViewer = Callable[[random.Random], str | None]


class AttentionModel:
    """The present viewers' states; draws from a stream of its own, so turning attention on
    leaves the rest of a room's events as they were."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.states: dict[str, str] = {}

    def chance_of_looking(self, activity: float) -> float:
        return ATTENTIVE_SHARE * (LOOK_AWAY_FLOOR + (1.0 - LOOK_AWAY_FLOOR) * activity)

    def _draw(self, activity: float) -> str:
        rng = self.rng
        if rng.random() < self.chance_of_looking(activity):
            return ATTENTIVE
        return rng.choices(ELSEWHERE, ELSEWHERE_WEIGHTS)[0]

    def joined(self, user: str, activity: float) -> str:
        """The state a viewer arrives in (reported with the join)."""
        state = self.states[user] = self._draw(activity)
        return state

    def left(self, user: str) -> None:
        self.states.pop(user, None)

    def second(self, start: float, present: int, pick: PickViewer) -> list[tuple[float, str, str]]:
        """The redraws and refreshes due in the second from `start`: (when, viewer, which)."""
        rng, due = self.rng, []
        for what, every in ((REDRAW, DWELL_SECONDS), (REFRESH, REFRESH_SECONDS)):
            for _ in range(poisson(rng, present / every)):
                user = pick(rng)
                if user is not None:
                    due.append((start + rng.random(), user, what))
        return due

    def resolve(self, user: str, what: str, activity: float) -> str | None:
        """The state to report now, None when there is nothing to report (a redraw that kept
        the state, or a viewer who left meanwhile)."""
        if user not in self.states:
            return None
        if what == REFRESH:
            return self.states[user]
        before = self.states[user]
        after = self.states[user] = self._draw(activity)
        return after if after != before else None
