"""Publish grants: what the queue signs and auth checks before leasing a token."""

from __future__ import annotations

import time
import uuid

import pytest

from cachalot_common.events import MediaRef, PublishVideo
from cachalot_common.grants import GrantError, mint_grant, verify_grant
from cachalot_common.leases import LeaseRefused
from cachalot_common.redaction import redact
from cachalot_common.service_auth import PUBLISHER_SERVICES, mint_service_token, publisher_of

QUEUE_SECRET = "queue-secret-for-these-tests-0123456789"
IDS = {k: uuid.uuid4() for k in ("post_id", "target_id", "client_id", "account_id")}


def grant(**overrides: object) -> str:
    values: dict[str, object] = {
        **IDS,
        "platform": "youtube",
        "attempt": 2,
        "secret": QUEUE_SECRET,
        "lifetime_s": 3600,
        **overrides,
    }
    return mint_grant(**values)  # type: ignore[arg-type]


def test_a_grant_binds_the_post_target_client_account_platform_and_attempt() -> None:
    checked = verify_grant(grant(), secrets={"queue": QUEUE_SECRET})
    assert (checked.post_id, checked.target_id) == (IDS["post_id"], IDS["target_id"])
    assert (checked.client_id, checked.account_id) == (IDS["client_id"], IDS["account_id"])
    assert (checked.platform, checked.attempt) == ("youtube", 2)
    assert checked.expires_at > time.time() + 3500


@pytest.mark.parametrize(
    ("given", "secrets"),
    [
        ("not.a.jwt", {"queue": QUEUE_SECRET}),
        (grant(secret="someone-elses-secret-0123456789abcdef"), {"queue": QUEUE_SECRET}),
        (grant(), {"publisher-youtube": QUEUE_SECRET}),  # only the queue issues grants
        (grant(issuer="publisher-youtube"), {"queue": QUEUE_SECRET}),
    ],
)
def test_a_grant_not_signed_by_the_queue_is_invalid(
    given: str | None, secrets: dict[str, str]
) -> None:
    with pytest.raises(GrantError) as refused:
        verify_grant(given, secrets=secrets)
    assert refused.value.code == "grant_invalid"


@pytest.mark.parametrize("given", [None, ""])
def test_a_command_without_a_grant_is_refused_as_missing_which_a_new_dispatch_mends(
    given: str | None,
) -> None:
    """A command queued before grants existed (rolling upgrade) comes back retryable."""
    with pytest.raises(GrantError) as refused:
        verify_grant(given, secrets={"queue": QUEUE_SECRET})
    assert refused.value.code == "grant_missing"
    assert LeaseRefused(403, refused.value.code, "no grant").retryable


def test_a_service_token_of_the_queue_is_not_a_grant() -> None:
    token = mint_service_token(service="queue", secret=QUEUE_SECRET)
    with pytest.raises(GrantError) as refused:
        verify_grant(token, secrets={"queue": QUEUE_SECRET})
    assert refused.value.code == "grant_invalid"


def test_an_expired_grant_says_so_and_its_message_holds_no_grant() -> None:
    stale = grant(now_s=time.time() - 7200)
    with pytest.raises(GrantError) as refused:
        verify_grant(stale, secrets={"queue": QUEUE_SECRET})
    assert refused.value.code == "grant_expired"
    assert stale not in str(refused.value)


def test_each_platform_has_exactly_one_publisher_service() -> None:
    assert publisher_of("tiktok") == "publisher-tiktok"
    assert publisher_of("youtube") == "publisher-youtube"
    assert publisher_of("myspace") is None
    assert len(set(PUBLISHER_SERVICES.values())) == len(PUBLISHER_SERVICES)


def test_a_command_keeps_its_grant_out_of_repr_and_logs_mask_it() -> None:
    signed = grant()
    command = PublishVideo(
        **IDS,
        platform="youtube",
        attempt=2,
        media=MediaRef(
            media_id=uuid.uuid4(), path="v.mp4", size=1, sha256="a" * 64, content_type="video/mp4"
        ),
        options={"platform": "youtube", "title": "t"},
        grant=signed,
    )
    assert signed not in repr(command)
    assert signed not in str(command)
    assert PublishVideo.model_validate_json(command.model_dump_json()).grant == signed
    assert signed not in redact(f"lease for {command.model_dump_json()}")
