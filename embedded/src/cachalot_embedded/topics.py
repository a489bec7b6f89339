"""Create the topics embedded mode needs before any service starts.

A broker auto-creates a topic with one partition, and one partition means
one consumer of a group gets all the work however many publisher replicas
run. The publish topics are therefore created up front with several
partitions (compose and Kubernetes do the same with their topic job).
"""

from __future__ import annotations

import contextlib

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


def planned_topics() -> list[NewTopic]:
    """Every DESIGN topic and its DLQ; publish topics (one per publishable platform of
    the registry) with several partitions."""
    plain = [CONTACT_SUBMITTED, ACCOUNTS, SESSIONS, POSTS_RESULT, POSTS_STATUS, NOTIFY]
    publish = [spec.publish_topic for spec in platforms.publishable()]
    topics = [NewTopic(name, num_partitions=1, replication_factor=1) for name in plain]
    topics += [
        NewTopic(name, num_partitions=PUBLISH_PARTITIONS, replication_factor=1) for name in publish
    ]
    topics += [
        NewTopic(dlq(name), num_partitions=1, replication_factor=1) for name in plain + publish
    ]
    return topics


async def ensure_topics(bootstrap: str) -> None:
    """Create what is missing; an existing topic is left as it is."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="cachalot-dev")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in planned_topics() if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another starter won the race
                await admin.create_topics(missing)
    finally:
        await admin.close()
