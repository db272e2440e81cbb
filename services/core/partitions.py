"""Which partition a session lives in, and how many partitions each collector should own.

Pure functions: every collector computes the same answers from the same inputs, which is what
lets them share the partitions without a coordinator.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence


def partition_of(session_id: str, partitions: int) -> int:
    """Stable across processes and versions (unlike `hash()`, which Python salts per process)."""
    return zlib.crc32(session_id.encode("utf-8", "surrogatepass")) % partitions


def quota(member: str, members: Sequence[str], partitions: int) -> int:
    """How many partitions `member` should own: an even share, the first ones one more."""
    ordered = sorted(set(members))
    if member not in ordered:
        return 0
    share, extra = divmod(partitions, len(ordered))
    return share + (1 if ordered.index(member) < extra else 0)


def to_release(owned: Iterable[int], wanted: int) -> list[int]:
    """The partitions to hand back when owning more than `wanted`: the highest numbers, so
    every collector gives back in the same order and a rebalance moves as few as it can."""
    ordered = sorted(owned)
    return ordered[wanted:] if len(ordered) > wanted else []


def search_order(member: str, members: Sequence[str], partitions: int) -> list[int]:
    """Where `member` looks for free partitions first: its own stretch of the ring, so two
    collectors joining together do not race for the same partitions."""
    ordered = sorted(set(members))
    rank = ordered.index(member) if member in ordered else 0
    start = rank * partitions // max(1, len(ordered))
    return [(start + i) % partitions for i in range(partitions)]
