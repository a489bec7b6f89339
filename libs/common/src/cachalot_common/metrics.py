"""``GET /metrics``: every service's Prometheus metrics, in the text exposition format.

The Prometheus client rather than OpenTelemetry metrics: Jaeger takes traces
only, and a scrape endpoint needs no collector in embedded mode or compose;
any Prometheus (or an OpenTelemetry collector's Prometheus receiver) reads it.
Each process exposes its own counters. The gateway routes only ``/api/v1/…``
and the dashboard, so ``/metrics`` is reachable inside the network only.

Metric names start with ``cachalot_<service>_``; labels are bounded sets
(platforms, statuses, error codes), never ids, and never anything secret.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from cachalot_common.events import PublishPost, PublishResult

METRICS_PATH = "/metrics"


def install_metrics(app: FastAPI, *, before: Callable[[], Awaitable[object]] | None = None) -> None:
    """Serve the process's metrics at ``/metrics`` (not in the OpenAPI document);
    ``before`` runs first at each scrape (the dependency gauges are measured then)."""

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response:
        if before is not None:
            await before()
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


# --- dead letters --------------------------------------------------------------------

DEAD_LETTERS = Counter(
    "cachalot_dead_letters_total",
    "Messages parked in <topic>.dlq by this process, by source topic "
    "(undecodable, or refused for good); the CachalotDeadLettersGrowing alert reads it.",
    ["topic"],
)


def count_dead_letter(topic: str) -> None:
    """Count one message parked in ``<topic>.dlq`` (``topic``: the source topic)."""
    DEAD_LETTERS.labels(topic).inc()


# --- outbox relays ---------------------------------------------------------------------

RELAY_FAILING_SECONDS = Gauge(
    "cachalot_outbox_relay_failing_seconds",
    "Seconds this process's outbox relay has failed every round in a row (0 while it "
    "publishes); the CachalotOutboxRelayFailing alert reads it.",
)


def relay_failing_for(seconds: float) -> None:
    """The outbox relay has failed every round for ``seconds`` (0: it publishes)."""
    RELAY_FAILING_SECONDS.set(seconds)


# --- publishers ------------------------------------------------------------------------

PUBLISHER_RESULTS = Counter(
    "cachalot_publisher_results_total",
    "Results a publisher reported, by platform, type (published/failed/retryable) and code.",
    ["platform", "type", "code"],
)
PUBLISHER_ATTEMPT_SECONDS = Histogram(
    "cachalot_publisher_attempt_seconds",
    "How long a publisher spent on one publish command, by platform.",
    ["platform"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


def count_result(result: PublishResult) -> None:
    """Count a publisher's result (progress reports are not results)."""
    if result.type != "progress":
        PUBLISHER_RESULTS.labels(result.platform, result.type, result.code or "").inc()


def timed_publishing(
    platform: str, handle: Callable[[PublishPost], Awaitable[None]]
) -> Callable[[PublishPost], Awaitable[None]]:
    """``handle``, timing each command into ``cachalot_publisher_attempt_seconds``."""

    async def timed(command: PublishPost) -> None:
        began = time.monotonic()
        try:
            await handle(command)
        finally:
            PUBLISHER_ATTEMPT_SECONDS.labels(platform).observe(time.monotonic() - began)

    return timed
