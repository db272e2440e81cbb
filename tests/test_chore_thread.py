"""The collector's chore thread: turns held up by a slow database merge, and a bound holds."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from services.live.chore_thread import ChoreThread
from tests.waiting import wait_until


def test_turns_held_up_merge_and_keep_only_the_newest_episodes() -> None:
    release = threading.Event()
    turns: list[list[str]] = []
    housekept = threading.Event()

    def agent_turn(opened: Sequence[dict[str, Any]], escalated: Sequence[dict[str, Any]]) -> None:
        turns.append([row["episode_id"] for row in opened])
        release.wait(10)  # the first turn waits on a lock

    chores = ChoreThread(
        agent_turn, housekept.set, lambda: True, housekeeping_every=0.05, max_waiting=3
    )
    chores.start()
    try:
        chores.tick_done([{"episode_id": "e0"}])
        wait_until(lambda: turns == [["e0"]], what="the first turn")
        for n in range(1, 6):  # five ticks while the first turn waits
            chores.tick_done([{"episode_id": f"e{n}"}])
        release.set()
        wait_until(lambda: len(turns) == 2, what="one merged turn")
        assert turns[1] == ["e3", "e4", "e5"]
        assert chores.skipped_episodes == 2
        wait_until(housekept.is_set, what="housekeeping")
    finally:
        release.set()
        chores.stop()


def test_a_standby_does_no_housekeeping_and_a_failing_chore_does_not_stop_the_thread() -> None:
    leading = False
    housekeeping_runs: list[int] = []
    turns: list[int] = []

    def broken_turn(opened: Sequence[dict[str, Any]], escalated: Sequence[dict[str, Any]]) -> None:
        turns.append(len(opened))
        raise RuntimeError("a bug in a content generator")

    chores = ChoreThread(
        broken_turn, lambda: housekeeping_runs.append(1), lambda: leading, housekeeping_every=0.05
    )
    chores.start()
    try:
        chores.tick_done([])
        wait_until(lambda: turns == [0], what="a turn")
        assert housekeeping_runs == []
        leading = True
        chores.tick_done([{"episode_id": "e"}])
        wait_until(lambda: turns == [0, 1] and housekeeping_runs, what="a turn after the failure")
    finally:
        chores.stop()
