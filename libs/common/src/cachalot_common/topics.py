"""Kafka topic names: the contract in DESIGN.md, in one place."""

from __future__ import annotations

from typing import Final, Literal, get_args

Platform = Literal["tiktok", "youtube", "instagram", "vk", "telegram"]
PLATFORMS: Final[tuple[Platform, ...]] = get_args(Platform)
"""Every platform name, in the order of :data:`Platform` (written once, there)."""

CONTACT_SUBMITTED: Final = "contact.submitted.v1"
ACCOUNTS: Final = "accounts.v1"
POSTS_RESULT: Final = "posts.result.v1"
POSTS_STATUS: Final = "posts.status.v1"
NOTIFY: Final = "notify.v1"
SESSIONS: Final = "sessions.v1"
PROPOSALS: Final = "proposals.v1"


def publish_topic(platform: Platform) -> str:
    """The command topic a platform's publisher consumes (key = account id)."""
    return f"posts.publish.{platform}.v1"


def dlq(topic: str) -> str:
    """Where undecodable messages of ``topic`` go, with their original key."""
    return f"{topic}.dlq"
