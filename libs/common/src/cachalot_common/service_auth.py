"""Service-to-service credentials for internal endpoints (token leases).

Each calling service has its own secret (``CACHALOT_SERVICE_SECRET`` beside
``CACHALOT_SERVICE_NAME``); the auth service holds the map of all of them
(``CACHALOT_SERVICE_CREDENTIALS``, JSON ``{"publisher-tiktok": "…"}``). A
caller signs a JWT (HS256) with its own secret: ``iss`` = its name, ``aud`` =
the callee, lifetime 60 seconds, a fresh ``jti``. One leaked secret lets an
attacker act only as that one service, and can be rotated alone.

A service token is single-use: the callee remembers each ``jti`` until the
token expires (auth keeps them in its database, so every replica sees them)
and refuses a second use. Which service may act for which platform is
:data:`PUBLISHER_SERVICES`, the one table of it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from cachalot_common.platforms import REGISTRY

ALGORITHM = "HS256"
MAX_LIFETIME_S = 60
LEEWAY_S = 5


PUBLISHER_SERVICES: Mapping[str, str] = {n: s.publisher_service for n, s in REGISTRY.items()}
"""platform → the one service allowed to lease that platform's tokens (from the registry)."""


def publisher_of(platform: str) -> str | None:
    """The service that publishes to ``platform`` (``None`` for an unknown platform)."""
    return PUBLISHER_SERVICES.get(platform)


class ServiceAuthError(Exception):
    """The request's service credentials are missing, unknown, forged or stale."""


@dataclass(frozen=True, slots=True)
class ServiceIdentity:
    service: str
    token_id: str
    expires_at: int = 0  # Unix seconds: how long its ``token_id`` must be remembered


def mint_service_token(
    *, service: str, secret: str, audience: str = "cachalot-auth", lifetime_s: int = 30
) -> str:
    """A short-lived bearer token proving the caller is ``service``."""
    now = int(time.time())
    claims = {
        "iss": service,
        "sub": service,
        "aud": audience,
        "iat": now,
        "exp": now + min(lifetime_s, MAX_LIFETIME_S),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


_VERIFIED_MAX = 1024
_verified: dict[tuple[str, str], tuple[str, ServiceIdentity]] = {}
"""(token, audience) → (the secret that verified it, its identity): the last tokens verified."""


def verify_service_token(
    token: str, *, secrets: Mapping[str, str], audience: str = "cachalot-auth"
) -> ServiceIdentity:
    """Check the token against the secret of the service it claims to be.

    Raises :class:`ServiceAuthError`. A token this process verified already (the same
    bytes, for the same audience, with the same service's secret) and not yet expired
    (``exp`` + :data:`LEEWAY_S`) is not decoded again: a request to auth's internal
    routes is checked by the guard middleware and then by the route, which identifies
    the caller (issue 9: the second check was a tenth of auth's CPU per lease). Single
    use is not this function's business (auth's ``spent_service_tokens``).
    """
    known = _verified.get((token, audience))
    if known is not None:
        secret, identity = known
        if (
            secrets.get(identity.service) == secret
            and time.time() <= identity.expires_at + LEEWAY_S
        ):
            return identity
    identity = _verify(token, secrets=secrets, audience=audience)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[(token, audience)] = (secrets[identity.service], identity)
    return identity


def _verify(token: str, *, secrets: Mapping[str, str], audience: str) -> ServiceIdentity:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise ServiceAuthError("malformed service token") from error
    service = unverified.get("iss")
    if not isinstance(service, str) or service not in secrets:
        raise ServiceAuthError("unknown service")
    try:
        claims = jwt.decode(
            token,
            secrets[service],
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=service,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "iss", "aud", "jti"]},
        )
    except jwt.PyJWTError as error:
        raise ServiceAuthError(f"invalid service token: {type(error).__name__}") from error
    if int(claims["exp"]) - int(claims["iat"]) > MAX_LIFETIME_S:
        raise ServiceAuthError("service token lives too long")
    return ServiceIdentity(
        service=service, token_id=str(claims["jti"]), expires_at=int(claims["exp"])
    )
