"""Rolling upgrades: an event from a newer producer is read by an older consumer."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from cachalot_common.events import AccountChanged, PostStatusChanged, PublishPost


def test_a_field_added_to_an_event_is_ignored_by_a_reader_that_does_not_know_it() -> None:
    status = PostStatusChanged.model_validate(
        {
            "type": "post.status_changed",
            "post_id": str(uuid.uuid4()),
            "target_id": str(uuid.uuid4()),
            "client_id": str(uuid.uuid4()),
            "account_id": str(uuid.uuid4()),
            "platform": "tiktok",
            "status": "published",
            "added_by_a_newer_queue": 1,
        }
    )
    assert status.status == "published"
    assert "added_by_a_newer_queue" not in json.loads(status.model_dump_json())


def test_an_unknown_option_of_a_publish_command_is_refused_not_dropped() -> None:
    with pytest.raises(ValidationError):
        PublishPost.model_validate(
            {
                "post_id": str(uuid.uuid4()),
                "target_id": str(uuid.uuid4()),
                "client_id": str(uuid.uuid4()),
                "account_id": str(uuid.uuid4()),
                "platform": "tiktok",
                "attempt": 1,
                "media": {
                    "media_id": str(uuid.uuid4()),
                    "path": "a.mp4",
                    "size": 1,
                    "sha256": "0" * 64,
                    "content_type": "video/mp4",
                },
                "options": {"platform": "tiktok", "a_new_option": True},
            }
        )


def test_account_events_stay_readable_with_fields_a_newer_auth_adds() -> None:
    event = AccountChanged.model_validate(
        {
            "type": "connected",
            "account_id": str(uuid.uuid4()),
            "client_id": str(uuid.uuid4()),
            "platform": "youtube",
            "scopes_granted_later": ["x"],
        }
    )
    assert event.type == "connected"
