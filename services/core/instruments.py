"""The process's own Prometheus instruments: what happens in this process, as it happens.

What the deployment shares (collectors' reports, partitions) is read from Redis at each scrape
(app/metrics.py); these are the timings and counts only the process that did the work knows.
Under `serve` every worker writes them to PROMETHEUS_MULTIPROC_DIR and a scrape of any worker
adds them up; `collect` serves its own on METRICS_PORT.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

PREFIX = "engagement_conductor_"

# A `_created` series beside every counter and histogram doubles what is stored and graphs
# nothing an operator asks about (multiprocess mode has none anyway).
disable_created_metrics()

# A tick of 10,000 sessions takes about 0.2 s; a slow database write a few seconds.
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TICK_PHASES = ("read", "score", "detect", "write", "publish")

tick_seconds = Histogram(
    PREFIX + "tick_seconds", "How long each tick took, all phases.", buckets=_FAST_BUCKETS
)
tick_phase_seconds = Histogram(
    PREFIX + "tick_phase_seconds",
    "How long each phase of a tick took: read the routed events, score, detect, hand the rows "
    "to the writer, publish.",
    ["phase"],
    buckets=_FAST_BUCKETS,
)
database_write_seconds = Histogram(
    PREFIX + "database_write_seconds",
    "How long one batch of score rows took to write.",
    buckets=_WRITE_BUCKETS,
)
push_latency_seconds = Histogram(
    PREFIX + "push_latency_seconds",
    "From a tick's score computed to its frame sent on a live socket.",
    buckets=_FAST_BUCKETS,
)
lease_changes = Counter(
    PREFIX + "lease_changes",
    "Partition leases this process's collector took, lost or handed back.",
    ["change"],
)
anomaly_episodes = Counter(
    PREFIX + "anomaly_episodes",
    "Anomaly episodes opened (and escalated to critical), by type and severity.",
    ["type", "severity"],
)
interventions = Counter(
    PREFIX + "interventions",
    "Intervention status changes, by the status reached and the type.",
    ["type", "status"],
)
http_requests = Counter(
    PREFIX + "http_requests",
    "HTTP requests answered, by route and status code.",
    ["route", "status"],
)
http_request_seconds = Histogram(
    PREFIX + "http_request_seconds",
    "How long HTTP requests took to answer, by route.",
    ["route"],
    buckets=_FAST_BUCKETS,
)
open_sockets = Gauge(
    PREFIX + "open_sockets",
    "Live sockets open, per process.",
    multiprocess_mode="livesum",
)
