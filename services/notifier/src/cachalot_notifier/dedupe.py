"""What makes a notification unique, so a redelivered event sends nothing new.

The key is claimed in the database (a unique ``deliveries.dedupe_key``)
before anything is sent: see :mod:`deliveries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class NotificationKey:
    """What makes a notification unique: the event, and the channel it went to."""

    topic: str
    event_id: UUID
    channel: str

    def __str__(self) -> str:
        return f"{self.topic}:{self.event_id}:{self.channel}"
