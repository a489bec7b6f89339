"""The queue's metrics (``GET /metrics``): depth, publish latency, failures by platform and reason.

* ``cachalot_queue_targets{platform, status}``: how many targets are in each
  status, sampled from the database every ``interval`` seconds. Every replica
  reports the whole queue, so aggregate replicas with ``max``, not ``sum``.
* ``cachalot_queue_publish_latency_seconds{platform}``: from a post's
  scheduled time to its target reported published (includes retries).
* ``cachalot_queue_target_failures_total{platform, reason}``: targets that
  failed for good; ``reason`` is the platform's or publisher's error code.
* ``cachalot_queue_target_retries_total{platform, reason}``: failed attempts
  that were scheduled again.
* ``cachalot_queue_stuck_targets{platform}``: targets the operator console
  lists as stuck (in flight with no word for ``CACHALOT_RECONCILE_AFTER_S``,
  or scheduled and that long overdue), sampled with the depth; the
  ``CachalotPostsStuck`` alert (deploy/prometheus/alerts.yml) reads it.

Counters move only when the transaction that made the change commits
(:func:`count_on_commit`), so a rolled-back change is never counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import and_, func, or_, select
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from cachalot_common.events import utcnow
from cachalot_queue.outbox import OutboxSession
from cachalot_queue.states import IN_FLIGHT
from cachalot_queue.tables import Target

logger = logging.getLogger(__name__)

TARGETS = Gauge(
    "cachalot_queue_targets",
    "Targets by platform and status (each replica reports the whole queue: use max).",
    ["platform", "status"],
)
PUBLISH_LATENCY = Histogram(
    "cachalot_queue_publish_latency_seconds",
    "From a post's scheduled time to its target reported published.",
    ["platform"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)
FAILURES = Counter(
    "cachalot_queue_target_failures_total",
    "Targets that failed for good, by platform and error code.",
    ["platform", "reason"],
)
RETRIES = Counter(
    "cachalot_queue_target_retries_total",
    "Failed attempts scheduled again, by platform and error code.",
    ["platform", "reason"],
)

STUCK = Gauge(
    "cachalot_queue_stuck_targets",
    "Targets in flight with no word, or scheduled and overdue, for longer than "
    "CACHALOT_RECONCILE_AFTER_S (each replica reports the whole queue: use max).",
    ["platform"],
)

_ON_COMMIT = "cachalot_metrics"


def count_on_commit(session: AsyncSession, update: Callable[[], None]) -> None:
    """Run ``update`` (a metric change) once the session's transaction commits."""
    session.info.setdefault(_ON_COMMIT, []).append(update)


@sa_event.listens_for(OutboxSession, "after_commit")
def _apply(session: Session) -> None:
    for update in session.info.pop(_ON_COMMIT, []):
        update()


@sa_event.listens_for(OutboxSession, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


def observe_published(platform: str, scheduled_at: datetime, now: datetime) -> None:
    PUBLISH_LATENCY.labels(platform).observe(max(0.0, (now - scheduled_at).total_seconds()))


async def sample_depth(
    reader: async_sessionmaker[AsyncSession],
    *,
    stuck_after_s: float | None = None,
    clock: Callable[[], datetime] | None = None,
) -> dict[str, int]:
    """Set ``cachalot_queue_targets`` from one grouped count, and the stuck count.

    ``stuck_after_s``: how long without word makes a target stuck (the
    operator console's rule, :meth:`OperatorConsole.troubled`); ``None``
    leaves ``cachalot_queue_stuck_targets`` alone. ``clock``: now, in UTC.
    Returns the stuck targets by platform (``{}`` when not counted).
    """
    query = select(Target.platform, Target.status, func.count()).group_by(
        Target.platform, Target.status
    )
    async with reader() as session:
        counts = {(p, s): n for p, s, n in (await session.execute(query)).all()}
    shown = {
        (sample.labels["platform"], sample.labels["status"])
        for metric in TARGETS.collect()
        for sample in metric.samples
    }
    for platform, status in shown - set(counts):
        TARGETS.labels(platform, status).set(0)  # a status that emptied reads 0, not its last
    for (platform, status), count in counts.items():
        TARGETS.labels(platform, status).set(count)
    if stuck_after_s is None:
        return {}
    since = (clock or utcnow)() - timedelta(seconds=stuck_after_s)
    stuck_query = (
        select(Target.platform, func.count())
        .where(
            or_(
                and_(Target.status.in_(IN_FLIGHT), Target.last_activity_at < since),
                and_(Target.status == "scheduled", Target.due_at < since),
            )
        )
        .group_by(Target.platform)
    )
    async with reader() as session:
        stuck = {p: n for p, n in (await session.execute(stuck_query)).all()}
    for platform in {p for p, _ in counts} | set(stuck):
        STUCK.labels(platform).set(stuck.get(platform, 0))
    return stuck


async def run_depth_sampler(
    reader: async_sessionmaker[AsyncSession],
    interval: float,
    *,
    stuck_after_s: float | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Sample the queue's depth (and stuck targets) every ``interval`` seconds until cancelled."""
    while True:
        try:
            await sample_depth(reader, stuck_after_s=stuck_after_s, clock=clock)
        except Exception:  # the database is away: the next sample will tell
            logger.warning("queue depth sample failed", exc_info=True)
        await asyncio.sleep(interval)
