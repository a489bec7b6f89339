"""Service tokens and session cookies: only the right secret, only for a short time."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from cachalot_common.service_auth import (
    ServiceAuthError,
    mint_service_token,
    verify_service_token,
)
from cachalot_common.sessions import SessionError, issue_session, read_session

SECRETS = {"publisher-tiktok": "tiktok-secret-0123456789", "queue": "queue-secret-0123456789"}


def test_service_token_verifies_with_the_callers_own_secret() -> None:
    token = mint_service_token(service="publisher-tiktok", secret=SECRETS["publisher-tiktok"])
    assert verify_service_token(token, secrets=SECRETS).service == "publisher-tiktok"


def test_service_token_signed_with_another_services_secret_is_refused() -> None:
    token = mint_service_token(service="publisher-tiktok", secret=SECRETS["queue"])
    with pytest.raises(ServiceAuthError):
        verify_service_token(token, secrets=SECRETS)


def test_unknown_service_and_garbage_are_refused() -> None:
    with pytest.raises(ServiceAuthError):
        verify_service_token(mint_service_token(service="x", secret="y" * 20), secrets=SECRETS)
    with pytest.raises(ServiceAuthError):
        verify_service_token("not-a-jwt", secrets=SECRETS)


def test_expired_or_long_lived_service_token_is_refused() -> None:
    now = int(time.time())
    base = {"iss": "queue", "aud": "cachalot-auth", "jti": "1"}
    expired = jwt.encode({**base, "iat": now - 300, "exp": now - 200}, SECRETS["queue"])
    long_lived = jwt.encode({**base, "iat": now, "exp": now + 3600}, SECRETS["queue"])
    for token in (expired, long_lived):
        with pytest.raises(ServiceAuthError):
            verify_service_token(token, secrets=SECRETS)


def test_a_token_verified_once_is_refused_again_once_its_services_secret_is_rotated() -> None:
    token = mint_service_token(service="queue", secret=SECRETS["queue"])
    assert verify_service_token(token, secrets=SECRETS).service == "queue"
    assert verify_service_token(token, secrets=SECRETS).token_id  # the second check, remembered
    with pytest.raises(ServiceAuthError):
        verify_service_token(token, secrets={**SECRETS, "queue": "rotated-secret-0123456789"})
    with pytest.raises(ServiceAuthError):
        verify_service_token(token, secrets=SECRETS, audience="someone-else")


def test_session_round_trip_and_tampering() -> None:
    client_id = uuid.uuid4()
    token, session = issue_session(client_id=client_id, secret="s" * 32, lifetime_s=60)
    assert read_session(token, secret="s" * 32).client_id == client_id
    assert session.client_id == client_id
    with pytest.raises(SessionError):
        read_session(token, secret="t" * 32)
    with pytest.raises(SessionError):
        read_session(token[:-2] + "xx", secret="s" * 32)
    with pytest.raises(SessionError):
        read_session(None, secret="s" * 32)


def test_expired_session_is_refused() -> None:
    token, _ = issue_session(client_id=uuid.uuid4(), secret="s" * 32, lifetime_s=-10)
    with pytest.raises(SessionError):
        read_session(token, secret="s" * 32)
