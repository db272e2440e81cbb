"""The partition map as operators read it: the CLI and /health (real Redis)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from click.testing import CliRunner

from app.cli import main
from app.runtime import Runtime
from services.live.partition_map import read_partition_map
from tests.conftest import REDIS_URL


def test_the_map_names_each_owner_its_backlog_and_its_last_handover(
    make_runtime: Callable[..., Runtime],
) -> None:
    collector = make_runtime(partitions=4).collector
    assert collector is not None
    before = read_partition_map(collector.client, collector.names, 4)
    assert [info.owner for info in before] == [None] * 4
    collector.take_turn(time.time())
    infos = read_partition_map(collector.client, collector.names, 4)
    me = collector.settings.consumer_name
    assert [info.owner for info in infos] == [me] * 4
    assert [info.lag for info in infos] == [0] * 4
    assert {info.last_handover["kind"] for info in infos} == {"first"}
    collector.share.hand_back([3])
    after = read_partition_map(collector.client, collector.names, 4)
    assert after[3].owner is None and after[3].last_handover["released_by"] == me


def test_the_cli_prints_the_map(make_runtime: Callable[..., Runtime]) -> None:
    collector = make_runtime(partitions=3).collector
    assert collector is not None
    collector.take_turn(time.time())
    collector.share.hand_back([2])
    env = {
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": collector.names.prefix,
        "PARTITIONS": "3",
    }
    result = CliRunner().invoke(main, ["partitions"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    me = collector.settings.consumer_name
    assert lines[1].split()[:2] == ["0", me] and lines[1].endswith("first")
    assert lines[3].split()[:2] == ["2", "(none)"] and lines[3].endswith("released")
    assert lines[-1] == "3 partitions, 1 owner, 1 unowned"
    as_json = CliRunner().invoke(main, ["partitions", "--json"], env=env)
    assert [json.loads(line)["owner"] for line in as_json.output.splitlines()] == [me, me, None]


def test_the_cli_refuses_the_embedded_redis_with_a_reason() -> None:
    result = CliRunner().invoke(main, ["partitions"], env={"REDIS_URL": "embedded"})
    assert result.exit_code == 1
    assert "embedded Redis lives inside the server's process" in result.output
