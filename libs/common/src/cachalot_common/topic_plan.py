"""Which topics exist and with how many partitions, and making it so.

The partition count decides how many replicas of a group share the work.
Embedded mode creates the plan before any service starts, and every
service's broker watch (:class:`cachalot_common.consuming.BrokerWatch`)
creates it again whenever the broker comes back empty. Compose and
Kubernetes create their topics with their own job
(``deploy/kafka/create-topics.sh``), with more partitions and replicas, so
there the watch leaves topics alone (``CACHALOT_KAFKA_ENSURE_TOPICS`` is off).

Every planned topic has :data:`PARTITIONS` partitions, Tansu's own count for
a topic it auto-creates: when the embedded broker comes back empty, the first
client to ask for a topic's metadata (aiokafka always allows auto-creation)
creates it before any watch can, so a plan that differed from Tansu's default
could not hold (issue 11: topics came back with 4 partitions instead of 1).
Keys keep per-key order on any partition count; consumers read every
partition because the watch makes them join afresh.

A planned topic that exists with fewer partitions than its plan (issue 11: two
broker restarts a few seconds apart left six topics with 1 partition, and the
outbox relay, which keys records to the planned count, could not write to the
partitions that were not there) is raised to its plan with the admin API's
``CreatePartitions``; a broker that cannot (Tansu 0.6 does not offer the
request) makes :func:`ensure_topics` raise :class:`TopicPlanError` naming the
topics, so a broker watch does not restart consumers on a broker that does not
hold the plan (:meth:`cachalot_common.consuming.BrokerWatch.recover`). A topic
with more partitions than planned is left alone (partitions cannot be removed,
and more only spreads the work wider).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from cachalot_common import platforms
from cachalot_common.topics import (
    ACCOUNTS,
    CONTACT_SUBMITTED,
    NOTIFY,
    POSTS_RESULT,
    POSTS_STATUS,
    PROPOSALS,
    SESSIONS,
    dlq,
)

logger = logging.getLogger(__name__)

PARTITIONS = 4  # what Tansu gives a topic it auto-creates
PUBLISH_PARTITIONS = PARTITIONS


def planned_partitions() -> dict[str, int]:
    """Every DESIGN topic, one publish topic per publishable platform of the registry,
    and the DLQ of each → partition count (:data:`PARTITIONS`)."""
    plain = [CONTACT_SUBMITTED, ACCOUNTS, SESSIONS, POSTS_RESULT, POSTS_STATUS, PROPOSALS, NOTIFY]
    publish = [spec.publish_topic for spec in platforms.publishable()]
    plan = dict.fromkeys(plain, PARTITIONS)
    plan.update(dict.fromkeys(publish, PUBLISH_PARTITIONS))
    plan.update({dlq(name): PARTITIONS for name in plain + publish})
    return plan


def planned_topics() -> list[NewTopic]:
    """:func:`planned_partitions` as admin-client topic specs (replication factor 1)."""
    return [
        NewTopic(name, num_partitions=count, replication_factor=1)
        for name, count in planned_partitions().items()
    ]


class TopicPlanError(RuntimeError):
    """Planned topics exist with fewer partitions than planned and the broker did not add
    the missing ones. ``short``: topic → (partitions it has, partitions planned)."""

    def __init__(self, short: Mapping[str, tuple[int, int]], cause: BaseException) -> None:
        self.short = dict(short)
        listed = ", ".join(f"{t} has {has} of {want}" for t, (has, want) in sorted(short.items()))
        super().__init__(
            f"topics with fewer partitions than planned: {listed}; the broker did not add "
            f"partitions ({type(cause).__name__}: {cause})"
        )


async def ensure_topics(bootstrap: str, plan: Mapping[str, int] | None = None) -> list[str]:
    """Create the topics of ``plan`` (default: :func:`planned_partitions`, topic →
    partition count) that are missing, and raise an existing topic with fewer partitions
    to its count (``CreatePartitions``). Returns the names created (raised ones are
    logged, not returned).

    Raises :class:`TopicPlanError` when a topic keeps fewer partitions than planned (the
    broker refused or does not offer ``CreatePartitions``), and aiokafka's errors when
    the broker does not answer.
    """
    wanted = dict(plan) if plan is not None else planned_partitions()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="cachalot-topics", request_timeout_ms=5000
    )
    await admin.start()
    try:
        # all topics (a metadata request for every topic creates none)
        existing = {
            str(topic["topic"]): len(topic["partitions"] or ())
            for topic in await admin.describe_topics()
        }
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another starter won the race
                await admin.create_topics(missing)
        short = {
            name: (existing[name], count)
            for name, count in wanted.items()
            if name in existing and existing[name] < count
        }
        if short:
            await _add_partitions(admin, short)
        return [topic.name for topic in missing]
    finally:
        await admin.close()


async def _add_partitions(admin: AIOKafkaAdminClient, short: Mapping[str, tuple[int, int]]) -> None:
    """Raise each topic of ``short`` (topic → (has, planned)) to its planned count."""
    try:
        await admin.create_partitions({t: NewPartitions(want) for t, (_, want) in short.items()})
    except Exception as error:
        raise TopicPlanError(short, error) from error
    logger.warning(
        "topics raised to their planned partition counts: %s",
        ", ".join(f"{t} {has}→{want}" for t, (has, want) in sorted(short.items())),
    )
