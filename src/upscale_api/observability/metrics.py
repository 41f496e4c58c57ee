"""Every Prometheus metric the service exports, defined once, and their exposition.

Names, labels and what they count are listed in ``docs/operations.md``. Labels
hold only bounded, non-personal values: route templates (never raw paths), job
names, FCM error codes, limit names. Several API processes on one machine
(``upscale serve --workers N``) share counts through prometheus_client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a directory each process
writes its values to, and any process's ``/metrics`` reads them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")  # Litestar adds the charset itself
disable_created_metrics()  # type: ignore[no-untyped-call]  # a *_created series per label set doubles the output for nothing a dashboard uses

HTTP_REQUESTS = Counter(
    "upscale_http_requests",
    "Requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "upscale_http_request_duration_seconds",
    "Time from a request's arrival at the app to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
JOB_RUNS = Counter(
    "upscale_job_runs",
    "Scheduled job runs by job and outcome (ok, failed); a run that found another replica's lock counts as ok.",
    ["job", "outcome"],
)
JOB_SECONDS = Histogram(
    "upscale_job_duration_seconds",
    "How long a scheduled job's run took, by job.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
OUTBOX_DUE = Gauge(
    "upscale_outbox_due_messages",
    "Messages due and not yet handled: notifications waiting to be planned and deliveries waiting to be sent.",
    multiprocess_mode="livemax",
)
OUTBOX_OLDEST_DUE_AGE = Gauge(
    "upscale_outbox_oldest_due_age_seconds",
    "How long the oldest due message has waited (0 when none is due).",
    multiprocess_mode="livemax",
)
FCM_OUTCOMES = Counter(
    "upscale_fcm_outcomes",
    "Answers of FCM per delivery: sent, or the FCM error code (UNREGISTERED, QUOTA_EXCEEDED, ...).",
    ["outcome"],
)
DB_POOL_IN_USE = Gauge(
    "upscale_db_pool_connections_in_use",
    "Connections taken from the pool and not yet given back.",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "upscale_db_pool_waiting",
    "Callers waiting for a free connection of the pool.",
    multiprocess_mode="livesum",
)
RATE_LIMIT_REJECTIONS = Counter(
    "upscale_rate_limit_rejections",
    "Requests refused with 429, by the limit that had the longest wait (resident, address, invite-..., batch-...).",
    ["limit"],
)


def count_fcm_outcomes(outcomes: Iterable[str]) -> None:
    for outcome in outcomes:
        FCM_OUTCOMES.labels(outcome).inc()


def exposition() -> bytes:
    """The text exposition of every metric: this process's, or in multiprocess mode every process's."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
