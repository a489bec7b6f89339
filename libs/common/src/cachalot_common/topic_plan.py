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
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
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


async def ensure_topics(bootstrap: str, plan: Mapping[str, int] | None = None) -> list[str]:
    """Create the topics of ``plan`` (default: :func:`planned_partitions`) that are missing.

    An existing topic is left as it is. Returns the names created. Raises
    aiokafka's errors when the broker does not answer.
    """
    wanted = dict(plan) if plan is not None else planned_partitions()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="cachalot-topics", request_timeout_ms=5000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another starter won the race
                await admin.create_topics(missing)
        return [topic.name for topic in missing]
    finally:
        await admin.close()
