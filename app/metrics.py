"""`GET /metrics`: Prometheus text exposition, for the addresses `METRICS_ALLOWED_NETWORKS` lists.

Two sources. The deployment's shared state comes from Redis (the partition map and every
collector's report), so every web process answers the same, whichever a scrape reaches. The
processes' own instruments (services/core/instruments.py: tick phases, write and push latency,
leases, episodes, interventions, HTTP requests, sockets) come from PROMETHEUS_MULTIPROC_DIR,
where every worker of `serve` writes them, or from this process alone where that is not set.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app.health import collector_report
from app.live_socket import SOCKET_PREFIX
from app.runtime import Runtime
from services.agent.writing_pool import WritingCounters
from services.core import instruments
from services.core.redis_bus import REDIS_DOWN

metrics = Blueprint("metrics", __name__)

_PREFIX = "engagement_conductor_"


class DeploymentCollector(Collector):
    """Reads the deployment's shared state at each scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        try:
            redis_up = bool(self.runtime.redis.ping())
        except REDIS_DOWN:
            redis_up = False
        up = GaugeMetricFamily(_PREFIX + "redis_up", "Whether Redis answered this scrape.")
        up.add_metric([], 1.0 if redis_up else 0.0)
        yield up
        if redis_up:
            yield from _deployment(collector_report(self.runtime, redis_up=True))
            dead = GaugeMetricFamily(
                _PREFIX + "dead_letter_entries",
                "Entries in the dead-letter stream (bounded by DEAD_LETTER_MAXLEN).",
            )
            dead.add_metric([], float(self.runtime.redis.xlen(self.runtime.names.dead_letter)))
            yield dead
            yield from _writing(WritingCounters(self.runtime.redis, self.runtime.names).read())


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(_PREFIX + name, documentation, labels=labels)


def _deployment(report: dict[str, Any]) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    collectors = _gauge("collectors", "Collectors alive (reported within a lease).", [])
    collectors.add_metric([], len(report["collectors"]))
    yield collectors
    yield from _collector_series(report["collectors"])
    owned = _gauge("partitions_owned", "Partitions each collector owns.", ["collector"])
    sessions = _gauge("live_sessions", "Live sessions each collector scores.", ["collector"])
    for entry in report["collectors"]:
        name = str(entry.get("consumer"))
        owned.add_metric([name], len(entry.get("partitions") or []))
        sessions.add_metric([name], float(entry.get("live_sessions") or 0))
    yield owned
    yield sessions
    unowned = _gauge("partitions_unowned", "Partitions nobody owns right now.", [])
    unowned.add_metric([], len(report["unowned_partitions"]))
    yield unowned
    owner = _gauge("partition_owner", "1 for the owner of each partition.", ["partition", "owner"])
    lag = _gauge("partition_lag", "Routed entries the owner has not read yet.", ["partition"])
    pending = _gauge("partition_pending", "Entries read, not yet acknowledged.", ["partition"])
    handover = _gauge(
        "partition_last_handover_timestamp_seconds",
        "When each partition last changed hands, and how.",
        ["partition", "kind"],
    )
    for info in report["partitions"]:
        partition = str(info["partition"])
        if info["owner"] is not None:
            owner.add_metric([partition, info["owner"]], 1.0)
        if info["lag"] is not None:
            lag.add_metric([partition], float(info["lag"]))
        if info["pending"] is not None:
            pending.add_metric([partition], float(info["pending"]))
        last = info["last_handover"] or {}
        if isinstance(last.get("at"), int | float):
            kind = str(last.get("kind") or ("released" if last.get("released_by") else ""))
            handover.add_metric([partition, kind], float(last["at"]))
    yield from (owner, lag, pending, handover)


# From each collector's report: (name, help, report key, scale, counter?).
_COLLECTOR_SERIES = (
    ("events_accepted", "Platform events accepted.", "accepted_events", 1.0, True),
    ("events_rejected", "Platform events rejected (dead-lettered).", "rejected_events", 1.0, True),
    ("events_stamped_ahead", "Events stamped ahead of the clock, taken as of now.",
     "events_stamped_ahead", 1.0, True),
    ("refused_session_events", "Events of new sessions beyond the live-session limits.",
     "refused_session_events", 1.0, True),
    ("missed_ticks", "Tick boundaries not scored.", "missed_ticks", 1.0, True),
    ("rows_dropped", "Score rows dropped from a full write buffer.", "dropped_rows", 1.0, True),
    ("rows_pending", "Score rows waiting to be written.", "pending_rows", 1.0, False),
    ("ingest_lag_seconds", "Age of the platform entries being read (0: caught up).",
     "ingest_lag_seconds", 1.0, False),
    ("tick_duration_seconds", "How long the last tick took.", "last_tick_ms", 0.001, False),
    ("last_tick_timestamp_seconds", "When the last tick was scored.", "last_tick", 1.0, False),
    ("resident_memory_bytes", "The collecting process's resident memory.", "rss_mb", 2**20,
     False),
)  # fmt: skip


def _collector_series(
    reports: list[dict[str, Any]],
) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    for name, documentation, key, scale, counter in _COLLECTOR_SERIES:
        kind = CounterMetricFamily if counter else GaugeMetricFamily
        family = kind(_PREFIX + name, documentation, labels=["collector"])
        for report in reports:
            value = report.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                family.add_metric([str(report.get("consumer"))], float(value) * scale)
        yield family
    by_reason = CounterMetricFamily(
        _PREFIX + "events_rejected_by_reason",
        "Platform events rejected (dead-lettered), by the kind of rejection.",
        labels=["collector", "reason"],
    )
    for report in reports:
        reasons = report.get("rejected_by_reason")
        for reason, count in reasons.items() if isinstance(reasons, dict) else ():
            if isinstance(count, int) and not isinstance(count, bool):
                by_reason.add_metric([str(report.get("consumer")), str(reason)], float(count))
    yield by_reason


def _writing(counters: dict[str, int]) -> Iterator[CounterMetricFamily]:
    """The content writer's counters (services/agent/writing_pool.py), from every process."""
    generations = CounterMetricFamily(
        _PREFIX + "content_generations",
        "Interventions whose words a language model wrote.",
        labels=["model"],
    )
    fallbacks = CounterMetricFamily(
        _PREFIX + "content_fallbacks",
        "Writings that left the template's words, by reason.",
        labels=["reason"],
    )
    tokens = CounterMetricFamily(
        _PREFIX + "content_tokens", "Tokens the writer spent, by kind.", labels=["kind"]
    )
    families = {"generations": generations, "fallbacks": fallbacks, "tokens": tokens}
    for name, value in sorted(counters.items()):
        group, _, label = name.partition(":")
        if group in families and label:
            families[group].add_metric([label], float(value))
    yield from families.values()


def allowed_address(address: str | None, networks: tuple[str, ...]) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)


def process_registry() -> CollectorRegistry:
    """The processes' own instruments: every worker's, added up, under `serve`."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


@metrics.get("/metrics")
def scrape() -> Response:
    runtime: Runtime = current_app.config["EC_RUNTIME"]
    if not allowed_address(request.remote_addr, runtime.settings.metrics_allowed_networks):
        abort(403)
    shared = CollectorRegistry(auto_describe=False)
    shared.register(DeploymentCollector(runtime))
    body = generate_latest(shared) + generate_latest(process_registry())
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def install_request_metrics(server: Flask) -> None:
    """Count every request by route and status. Installed before any other hook: a hook that
    answers early (a refusal) skips the hooks after it, never the after-request ones."""

    @server.before_request
    def start_clock() -> None:
        g.ec_request_started = time.perf_counter()

    @server.after_request
    def count_request(response: Response) -> Response:
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        instruments.http_requests.labels(route=route, status=str(response.status_code)).inc()
        started = g.get("ec_request_started")
        # A live socket's request lasts as long as the socket: open_sockets counts those.
        if started is not None and not route.startswith(SOCKET_PREFIX):
            instruments.http_request_seconds.labels(route=route).observe(
                time.perf_counter() - started
            )
        return response
