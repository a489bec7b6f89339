"""Which topics exist and with how many partitions, and making it so.

A broker auto-creates a missing topic with its own default partition count
(Tansu: 4; Apache Kafka: 1), and the partition count decides how many
replicas of a group share the work. Embedded mode creates the plan before any
service starts, and every service's broker watch
(:class:`cachalot_common.consuming.BrokerWatch`) creates it again whenever the
broker comes back empty. Compose and Kubernetes create their topics with
their own job (``deploy/kafka/create-topics.sh``), with more partitions and
replicas, so there the watch leaves topics alone (``CACHALOT_KAFKA_ENSURE_TOPICS``
is off).
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
    SESSIONS,
    dlq,
)

PUBLISH_PARTITIONS = 4


def planned_partitions() -> dict[str, int]:
    """Every DESIGN topic and its DLQ → partition count; publish topics (one per
    publishable platform of the registry) with several partitions, the rest one."""
    plain = [CONTACT_SUBMITTED, ACCOUNTS, SESSIONS, POSTS_RESULT, POSTS_STATUS, NOTIFY]
    publish = [spec.publish_topic for spec in platforms.publishable()]
    plan = dict.fromkeys(plain, 1)
    plan.update(dict.fromkeys(publish, PUBLISH_PARTITIONS))
    plan.update({dlq(name): 1 for name in plain + publish})
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
