"""Create the topics embedded mode needs before any service starts.

The plan (names and partition counts) lives in ``cachalot_common.topic_plan``,
because every service creates it again when the broker comes back empty.
"""

from __future__ import annotations

from cachalot_common.topic_plan import PUBLISH_PARTITIONS, ensure_topics, planned_topics

__all__ = ["PUBLISH_PARTITIONS", "ensure_topics", "planned_topics"]
