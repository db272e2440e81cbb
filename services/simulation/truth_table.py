"""The simulator's hidden truth: which intervention type rescues which context, and how much.

Only the simulator reads a `ResponseTable`; the product (collector, agent, web tier) never imports
this module and must learn the best type from measured engagement alone. Benchmarks use it as the
oracle: `best` is what a perfect agent would pick, `share` what each type would gain.

A context here is the true state of a room: the episode under way (or none) and the room's size
bucket (fewer than 10 present, 10-49, 50 or more). In every context the best type's rescue share
leads the runner-up's by at least `GAP`.

`SEED_TABLE` is the one table the simulator has always used (the demo and the tests run on it).
`draw_table(seed)` draws another from a documented prior, so that a benchmark can ask whether a
learner finds the best types of tables it was never tuned on:

1. Each episode kind (and "no episode") gets a favourite type, uniformly at random.
2. In each size bucket the kind's favourite is the best type with probability FAVOURITE_KEPT;
   otherwise one of the other three, uniformly (so sizes may disagree, as in the seed table).
3. During an episode the best type's share is uniform on [0.45, 0.70]; with no episode (a
   general boost) on [0.20, 0.30].
4. Every other type's share is uniform on [floor, best - GAP], the floor being 0.05 during an
   episode and 0 without one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from services.core.vocabulary import InterventionType
from services.simulation.audience import EpisodeKind

ARMS = (
    InterventionType.POLL,
    InterventionType.CHAT_PROMPT,
    InterventionType.NOTIFICATION,
    InterventionType.GAMIFICATION,
)
SIZE_BUCKETS = 3
GAP = 0.15
FAVOURITE_KEPT = 2.0 / 3.0
EPISODE_BEST = (0.45, 0.70)
EPISODE_FLOOR = 0.05
QUIET_BEST = (0.20, 0.30)
QUIET_FLOOR = 0.0

Cell = tuple[EpisodeKind | None, int]
Shares = tuple[float, float, float, float]  # in the order of ARMS


def size_bucket(present: int) -> int:
    """0: fewer than 10 present, 1: 10-49, 2: 50 or more."""
    return 0 if present < 10 else 1 if present < 50 else 2


@dataclass(frozen=True, slots=True)
class ResponseTable:
    """True rescue shares per (episode kind, size bucket), one per type in the order of ARMS."""

    name: str
    rows: Mapping[Cell, Shares]

    def share(
        self, intervention_type: InterventionType, episode_kind: EpisodeKind | None, present: int
    ) -> float:
        """The share (0..1) of an episode's loss that the type restores while it acts; with no
        episode, the size of a general boost."""
        row = self.rows[(episode_kind, size_bucket(present))]
        return row[ARMS.index(InterventionType(intervention_type))]

    def best(self, episode_kind: EpisodeKind | None, present: int) -> InterventionType:
        row = self.rows[(episode_kind, size_bucket(present))]
        return ARMS[max(range(len(ARMS)), key=row.__getitem__)]


_P, _C, _N, _G = ARMS
SEED_TABLE = ResponseTable(
    "seed",
    {
        # A nudge in chat rescues a sudden drop until the room is big; then a challenge does.
        (EpisodeKind.SUDDEN_DROP, 0): (0.30, 0.60, 0.10, 0.25),
        (EpisodeKind.SUDDEN_DROP, 1): (0.30, 0.60, 0.10, 0.40),
        (EpisodeKind.SUDDEN_DROP, 2): (0.30, 0.45, 0.10, 0.65),
        # A challenge revives a declining room.
        (EpisodeKind.GRADUAL_DECLINE, 0): (0.30, 0.35, 0.10, 0.50),
        (EpisodeKind.GRADUAL_DECLINE, 1): (0.40, 0.30, 0.15, 0.60),
        (EpisodeKind.GRADUAL_DECLINE, 2): (0.40, 0.30, 0.15, 0.60),
        # Small rooms talk, big rooms vote.
        (EpisodeKind.LOW_ENGAGEMENT, 0): (0.35, 0.55, 0.10, 0.20),
        (EpisodeKind.LOW_ENGAGEMENT, 1): (0.40, 0.55, 0.10, 0.25),
        (EpisodeKind.LOW_ENGAGEMENT, 2): (0.60, 0.40, 0.10, 0.35),
        # Organisers fix the cause of a walk-out; those who left rejoin.
        (EpisodeKind.MASS_EXIT, 0): (0.10, 0.30, 0.50, 0.10),
        (EpisodeKind.MASS_EXIT, 1): (0.10, 0.20, 0.60, 0.15),
        (EpisodeKind.MASS_EXIT, 2): (0.10, 0.20, 0.60, 0.15),
        (None, 0): (0.05, 0.05, 0.00, 0.20),
        (None, 1): (0.10, 0.10, 0.00, 0.25),
        (None, 2): (0.10, 0.10, 0.00, 0.25),
    },
)


def draw_table(seed: int) -> ResponseTable:
    """A table drawn from the module's prior; the same seed always draws the same table."""
    rng = random.Random(f"response-table:{seed}")
    rows: dict[Cell, Shares] = {}
    for kind in (*EpisodeKind, None):
        favourite = rng.randrange(len(ARMS))
        low, high = EPISODE_BEST if kind is not None else QUIET_BEST
        floor = EPISODE_FLOOR if kind is not None else QUIET_FLOOR
        for bucket in range(SIZE_BUCKETS):
            best = favourite
            if rng.random() >= FAVOURITE_KEPT:
                best = rng.choice([arm for arm in range(len(ARMS)) if arm != favourite])
            top = rng.uniform(low, high)
            shares = [rng.uniform(floor, top - GAP) for _ in ARMS]
            shares[best] = top
            rows[(kind, bucket)] = (shares[0], shares[1], shares[2], shares[3])
    return ResponseTable(f"drawn:{seed}", rows)
