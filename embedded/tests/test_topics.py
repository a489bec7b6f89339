"""The topics embedded mode creates before any service starts."""

from __future__ import annotations

from cachalot_common import platforms
from cachalot_common.topics import dlq
from cachalot_embedded.topics import PUBLISH_PARTITIONS, planned_topics


def test_every_publishable_platform_gets_its_publish_topic_with_several_partitions() -> None:
    planned = {t.name: t.num_partitions for t in planned_topics()}
    for spec in platforms.publishable():
        assert planned[spec.publish_topic] == PUBLISH_PARTITIONS
        assert dlq(spec.publish_topic) in planned


def test_no_publish_topic_is_created_for_a_platform_nobody_publishes_to_yet() -> None:
    planned = {t.name for t in planned_topics()}
    for spec in platforms.REGISTRY.values():
        if not spec.publishable:
            assert spec.publish_topic not in planned
