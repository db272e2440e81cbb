"""A local Redis Cluster of three masters, started for a test and torn down after it."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.waiting import wait_until


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port <= 55_535 and _free(port + 10_000):
            return port


class LocalCluster:
    def __init__(self, tmp: Path, masters: int = 3) -> None:
        self.tmp = tmp
        # Each free port is released before the next is asked for, so the system may hand out
        # one twice (CI saw it); nor may a node's port be another's cluster bus port.
        self.ports: list[int] = []
        while len(self.ports) < masters:
            port = _cluster_port()
            taken = {q + offset for q in self.ports for offset in (-10_000, 0, 10_000)}
            if port not in taken:
                self.ports.append(port)
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        for port in self.ports:
            node_dir = self.tmp / str(port)
            node_dir.mkdir()
            self.processes.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port", str(port),
                        "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", str(node_dir / "nodes.conf"),
                        "--save", "",
                        "--appendonly", "no",
                        "--dir", str(node_dir),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )  # fmt: skip
        for port in self.ports:
            wait_until(lambda p=port: _pings(p), what=f"cluster node {port}")
        subprocess.run(
            [
                "redis-cli", "--cluster", "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        wait_until(self._ready, timeout=30, what="the cluster to serve every slot")

    def _ready(self) -> bool:
        for port in self.ports:
            info = redis.Redis(port=port).cluster("info")
            if info.get("cluster_state") != "ok":
                return False
        return True

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait(10)


def _pings(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port).ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed to start a local Redis Cluster")
    cluster = LocalCluster(tmp_path)
    try:
        cluster.start()
    except subprocess.CalledProcessError as exc:
        cluster.stop()
        pytest.skip(f"this redis-server cannot form a cluster: {exc.stderr[-300:]!r}")
    yield cluster
    cluster.stop()
