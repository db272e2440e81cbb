"""The partition map: stable, spread, and balanced to within one partition."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter

import pytest

from services.core.partitions import partition_of, quota, search_order, to_release


def test_a_session_maps_to_the_same_partition_in_every_process() -> None:
    # Python salts str hashes per process; the map must not depend on that.
    code = "from services.core.partitions import partition_of; print(partition_of('talk-42', 64))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
            cwd=".",
        ).stdout.strip()
        for seed in (1, 2)
    }
    assert runs == {str(partition_of("talk-42", 64))}
    assert partition_of("talk-42", 64) == 51  # crc32: fixed for good, rows depend on it


def test_sessions_spread_evenly_over_the_partitions() -> None:
    counts = Counter(partition_of(f"session-{i}", 64) for i in range(64_000))
    assert set(counts) == set(range(64))
    assert max(counts.values()) < 1.1 * 1000 and min(counts.values()) > 0.9 * 1000


def test_odd_session_ids_still_map_inside_the_range() -> None:
    for session in ["", "\udc80lone-surrogate", "é" * 255, "a:b{c}"]:
        assert 0 <= partition_of(session, 7) < 7


@pytest.mark.parametrize("members", [1, 2, 3, 5, 8, 64, 100])
@pytest.mark.parametrize("partitions", [1, 7, 64])
def test_quotas_cover_every_partition_within_one(members: int, partitions: int) -> None:
    names = [f"c{i}" for i in range(members)]
    random.Random(members).shuffle(names)
    quotas = [quota(name, names, partitions) for name in names]
    assert sum(quotas) == partitions
    assert max(quotas) - min(quotas) <= 1


def test_a_stranger_gets_no_quota_and_duplicates_count_once() -> None:
    assert quota("x", ["a", "b"], 64) == 0
    assert quota("a", ["a", "a", "b"], 64) == 32


def test_the_extra_partitions_go_to_the_first_names() -> None:
    assert [quota(n, ["b", "a", "c"], 64) for n in "abc"] == [22, 21, 21]


def test_release_hands_back_the_highest_partitions() -> None:
    assert to_release([5, 1, 9, 3], 2) == [5, 9]
    assert to_release([5, 1], 2) == []
    assert to_release([5, 1], 3) == []


def test_search_order_starts_on_each_collectors_own_stretch() -> None:
    members = ["a", "b", "c", "d"]
    starts = [search_order(m, members, 64)[0] for m in members]
    assert starts == [0, 16, 32, 48]
    assert sorted(search_order("c", members, 64)) == list(range(64))
    assert search_order("zz", members, 8)[0] == 0


def test_search_order_walks_the_whole_ring_upwards_from_its_start_and_wraps() -> None:
    assert search_order("b", ["a", "b", "c", "d"], 8) == [2, 3, 4, 5, 6, 7, 0, 1]
    assert search_order("a", ["a"], 3) == [0, 1, 2]


def test_an_uneven_stretch_starts_on_a_whole_partition_rounded_down() -> None:
    # 64 partitions over 3 collectors: stretches start at 64 / 3 = 21.3 and 42.7, floored.
    assert search_order("b", ["c", "a", "b"], 64) == [(21 + i) % 64 for i in range(64)]
    assert search_order("c", ["c", "a", "b"], 64) == [(42 + i) % 64 for i in range(64)]
