"""Publish grants: the queue's signed word that one target is queued and in flight.

Issue 8 item 3: a token is leased only to publish content the client queued.
Auth cannot see the queue's tables, so the queue vouches for each dispatch:
when the scheduler or the reconciler sends a ``PublishVideo`` command it signs
a short JWT (HS256, with the queue's own service secret, the one auth already
holds in ``CACHALOT_SERVICE_CREDENTIALS`` under ``"queue"``) that binds the
post, the target, the client, the account, the platform and the attempt.
The publisher passes it on in its lease request and auth checks it against
the account as it is now (same account, same platform, same current client).

Why it may travel in Kafka (where tokens never go): a grant is a capability
to *ask* for a lease, not a token. Auth honours it only together with a fresh,
single-use service JWT of the platform's own publisher, so a reader of the
topic who lacks that publisher's secret can do nothing with it. It is still
kept out of text: :class:`~cachalot_common.events.PublishVideo` leaves it out
of ``repr`` and :mod:`cachalot_common.redaction` masks JWT-shaped strings.

A grant is not single-use: a publisher may lease several times for one
attempt (a forced refresh after a platform 401, a renewal during a long
upload). It expires after ``lifetime_s`` (hours; long enough for a long
upload); auth then refuses with ``grant_expired``, the publisher reports the
attempt as retryable, and the queue's next dispatch carries a fresh grant.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal
from uuid import UUID

import jwt

from cachalot_common.service_auth import ALGORITHM, LEEWAY_S

GRANT_ISSUER: Final = "queue"
GRANT_AUDIENCE: Final = "cachalot-auth"
GRANT_TYPE: Final = "publish-grant"

GrantErrorCode = Literal["grant_invalid", "grant_expired", "grant_missing"]


class GrantError(Exception):
    """A grant that is missing (``grant_missing``), forged or malformed
    (``grant_invalid``) or past its expiry (``grant_expired``). The message never
    contains the grant."""

    def __init__(self, code: GrantErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code: GrantErrorCode = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PublishGrant:
    """What a valid grant binds (all ids as the queue dispatched them)."""

    grant_id: str
    post_id: UUID
    target_id: UUID
    client_id: UUID
    account_id: UUID
    platform: str
    attempt: int
    expires_at: int  # Unix seconds


def mint_grant(
    *,
    post_id: UUID,
    target_id: UUID,
    client_id: UUID,
    account_id: UUID,
    platform: str,
    attempt: int,
    secret: str,
    lifetime_s: float,
    issuer: str = GRANT_ISSUER,
    now_s: float | None = None,
) -> str:
    """A signed grant (compact JWT string) for one dispatch of one target.

    ``lifetime_s`` is seconds from ``now_s`` (default: the wall clock).
    """
    issued = int(time.time() if now_s is None else now_s)
    claims = {
        "iss": issuer,
        "aud": GRANT_AUDIENCE,
        "typ": GRANT_TYPE,
        "jti": uuid.uuid4().hex,
        "iat": issued,
        "exp": issued + int(lifetime_s),
        "post_id": str(post_id),
        "target_id": str(target_id),
        "client_id": str(client_id),
        "account_id": str(account_id),
        "platform": platform,
        "attempt": attempt,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_grant(
    grant: str | None, *, secrets: Mapping[str, str], issuer: str = GRANT_ISSUER
) -> PublishGrant:
    """Check a grant's signature (``secrets[issuer]``), audience, type and expiry.

    Raises :class:`GrantError` ``grant_expired`` when only the expiry fails and
    ``grant_missing`` when none is given (a command sent before grants existed,
    during a rolling upgrade): in both the caller may get a fresh one from a new
    dispatch; ``grant_invalid`` for anything else (unsigned by the issuer, wrong
    audience or type, a claim missing or malformed).
    Binding to an account is the caller's check.
    """
    if not grant:
        raise GrantError("grant_missing", "no publish grant given")
    secret = secrets.get(issuer)
    if not secret:
        raise GrantError("grant_invalid", f"no secret known for the grant issuer {issuer!r}")
    try:
        claims = jwt.decode(
            grant,
            secret,
            algorithms=[ALGORITHM],
            audience=GRANT_AUDIENCE,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "iss", "aud", "jti", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise GrantError("grant_expired", "the publish grant has expired") from None
    except jwt.PyJWTError as error:
        detail = f"invalid publish grant: {type(error).__name__}"
        raise GrantError("grant_invalid", detail) from None
    if claims.get("typ") != GRANT_TYPE:
        raise GrantError("grant_invalid", "not a publish grant")
    try:
        return PublishGrant(
            grant_id=str(claims["jti"]),
            post_id=UUID(str(claims["post_id"])),
            target_id=UUID(str(claims["target_id"])),
            client_id=UUID(str(claims["client_id"])),
            account_id=UUID(str(claims["account_id"])),
            platform=str(claims["platform"]),
            attempt=int(claims["attempt"]),
            expires_at=int(claims["exp"]),
        )
    except (KeyError, ValueError, TypeError):
        raise GrantError("grant_invalid", "the publish grant lacks a binding claim") from None
