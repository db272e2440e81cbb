"""What ships for monitoring (no container runtime here, so read, not run): the documented
metrics are the ones a scrape has, the Grafana dashboard graphs only those, and compose's
`monitoring` profile wires Prometheus and Grafana to the files in monitoring/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.factory import create_app
from app.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "monitoring"
_NAME = re.compile(r"engagement_conductor_[a-z_]+")
# What a family's samples add to its name in the exposition and in queries.
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def family_of(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def documented() -> set[str]:
    """The metric table of docs/operations.md, by family name."""
    text = (ROOT / "docs" / "operations.md").read_text()
    rows = re.findall(r"^\| `(engagement_conductor_[a-z_]+)` \|", text, re.MULTILINE)
    assert len(rows) == len(set(rows)), "a metric is documented twice"
    return {family_of(name) for name in rows}


def dashboard() -> dict[str, Any]:
    path = MONITORING / "grafana" / "dashboards" / "engagement-conductor.json"
    return json.loads(path.read_text())


def test_every_documented_metric_is_scraped_and_every_scraped_one_is_documented(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(partitions=2)
    collector = runtime.collector
    assert collector is not None
    collector.take_turn(time.time())
    collector.tick(float(int(time.time())))
    body = create_app(runtime).server.test_client().get("/metrics").get_data(as_text=True)
    scraped = {
        family.name
        for family in text_string_to_metric_families(body)
        if family.name.startswith("engagement_conductor_")
    }
    assert scraped == documented()


def test_the_dashboard_graphs_documented_metrics_and_every_one_of_them() -> None:
    board = dashboard()
    queried = {
        family_of(name)
        for panel in board["panels"]
        for target in panel["targets"]
        for name in _NAME.findall(target["expr"])
    }
    assert queried == documented()
    assert {panel["datasource"]["uid"] for panel in board["panels"]} == {"prometheus"}
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_the_monitoring_profile_wires_prometheus_and_grafana_to_the_shipped_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = compose["services"]
    prometheus, grafana, app = services["prometheus"], services["grafana"], services["app"]
    for service in (prometheus, grafana):
        assert service["profiles"] == ["monitoring"]
        image, _, tag = service["image"].partition(":")
        assert tag and tag != "latest" and re.match(r"v?\d+\.\d+\.\d+$", tag), image
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    # Prometheus scrapes the app at the one address the app lets scrape it.
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["app:8050"]
    address = prometheus["networks"]["monitoring"]["ipv4_address"]
    allowed = app["environment"]["METRICS_ALLOWED_NETWORKS"].split(",")
    assert f"{address}/32" in allowed
    assert "monitoring" in app["networks"]
    # Grafana's provisioning names the data source the dashboard uses, and the folder it is in.
    provisioning = MONITORING / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    assert [s["uid"] for s in sources["datasources"]] == ["prometheus"]
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    boards = yaml.safe_load((provisioning / "dashboards" / "engagement-conductor.yaml").read_text())
    path = boards["providers"][0]["options"]["path"]
    assert f"./monitoring/grafana/dashboards:{path}:ro" in grafana["volumes"]
