"""Publish grants: the queue's signed word that one target is queued and in flight.

Issue 8 item 3: a token is leased only to publish content the client queued.
Auth cannot see the queue's tables, so the queue vouches for each dispatch:
when the scheduler or the reconciler sends a ``PublishPost`` command it signs
a short JWT that binds the post, the target, the client, the account, the
platform and the attempt. The publisher passes it on in its lease request and
auth checks it against the account as it is now (same account, same platform,
same current client).

Signed asymmetrically (issue 9 follow-up): EdDSA (Ed25519, RFC 8037) with a
key id (``kid``) in the header. Only the queue holds the private key
(``CACHALOT_GRANT_SIGNING_KEY``, ``<kid>:<key>``); auth and every publisher
hold the public key ring (``CACHALOT_GRANT_PUBLIC_KEYS``, JSON
``{"<kid>": "<key>"}``), so each of them can *verify* a grant and none can
*mint* one. That matters since publishers serve later commands of an account
from a cached lease without asking auth again
(:mod:`cachalot_publishing.token`): a command whose grant does not verify
locally never gets a cached token, so a forged command written to a publish
topic is no better off than one that goes to auth. Keys rotate by ``kid``:
add the new public key to every ring, then switch the queue's signing key,
and drop the old public key once the last grant it signed has expired.

Why it may travel in Kafka (where tokens never go): a grant is a capability
to *ask* for a lease, not a token. Auth honours it only together with a fresh,
single-use service JWT of the platform's own publisher, so a reader of the
topic who lacks that publisher's secret can do nothing with it at auth; and
a publisher only reuses its cached lease for a grant that verifies with the
queue's public key and names exactly that command, so nobody without the
queue's private key can forge one. It is still kept out of text:
:class:`~cachalot_common.events.PublishPost` leaves it out of ``repr`` and
:mod:`cachalot_common.redaction` masks JWT-shaped strings.

A grant is not single-use: a publisher may lease several times for one
attempt (a forced refresh after a platform 401, a renewal during a long
upload). It expires after ``lifetime_s`` (hours; long enough for a long
upload); auth then refuses with ``grant_expired``, the publisher reports the
attempt as retryable, and the queue's next dispatch carries a fresh grant.
It also ends with its attempt: auth follows the queue's ``posts.status.v1``
and refuses (``grant_spent``) a grant whose attempt is over, published,
cancelled, failed, scheduled again, paused or replaced by a newer dispatch
(``cachalot_auth.attempts``).

Run ``python -m cachalot_common.grants keygen [--kid KID]`` to print a new
key pair as the two settings.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cachalot_common.service_auth import LEEWAY_S

GRANT_ISSUER: Final = "queue"
GRANT_AUDIENCE: Final = "cachalot-auth"
GRANT_TYPE: Final = "publish-grant"
GRANT_ALGORITHM: Final = "EdDSA"

SIGNING_KEY_VARIABLE: Final = "CACHALOT_GRANT_SIGNING_KEY"
PUBLIC_KEYS_VARIABLE: Final = "CACHALOT_GRANT_PUBLIC_KEYS"

GrantErrorCode = Literal["grant_invalid", "grant_expired", "grant_missing"]
GrantKeyRing = Mapping[str, Ed25519PublicKey]
"""kid → the queue's public key that verifies grants signed under that kid."""


class GrantError(Exception):
    """A grant that is missing (``grant_missing``), forged or malformed
    (``grant_invalid``) or past its expiry (``grant_expired``). The message never
    contains the grant."""

    def __init__(self, code: GrantErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code: GrantErrorCode = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class GrantSigningKey:
    """The queue's private key and its ``kid`` (``repr`` shows the kid only)."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def ring(self) -> dict[str, Ed25519PublicKey]:
        """A key ring of just this key's public half (tests, one-key deployments)."""
        return {self.kid: self.private_key.public_key()}

    def public_raw(self) -> bytes:
        """The 32 raw bytes of the matching public key."""
        return _raw_public(self.private_key.public_key())

    def setting(self) -> str:
        """This key as ``CACHALOT_GRANT_SIGNING_KEY``: ``<kid>:<base64 raw private key>``."""
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return f"{self.kid}:{base64.b64encode(raw).decode()}"

    def public_setting(self) -> str:
        """The matching ``CACHALOT_GRANT_PUBLIC_KEYS`` (a ring of this one key)."""
        return json.dumps({self.kid: base64.b64encode(self.public_raw()).decode()})


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


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _decode_b64(text: str) -> bytes | None:
    cleaned = text.strip().replace("-", "+").replace("_", "/")  # URL-safe too
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def generate_signing_key(kid: str) -> GrantSigningKey:
    """A new random Ed25519 key pair under ``kid`` (keygen, embedded mode's dev secrets)."""
    _check_kid(kid)
    return GrantSigningKey(kid, Ed25519PrivateKey.generate())


def _check_kid(kid: str) -> None:
    if not kid or len(kid) > 64 or not all(c.isalnum() or c in "-_." for c in kid):
        raise ValueError("the key id must be 1-64 letters, digits, '-', '_' or '.'")


def parse_signing_key(text: str) -> GrantSigningKey:
    """``<kid>:<key>`` → the signing key; the key is the base64 (standard or URL-safe)
    of the 32 raw private bytes, or an unencrypted PKCS#8 PEM block.

    Raises ``ValueError`` whose message never holds key material.
    """
    kid, sep, material = text.strip().partition(":")
    if not sep or not material.strip():
        raise ValueError("must be '<kid>:<base64 Ed25519 private key>' (or '<kid>:<PEM>')")
    _check_kid(kid)
    material = material.strip()
    if material.startswith("-----BEGIN"):
        try:
            loaded = serialization.load_pem_private_key(material.encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError("the PEM block is not an unencrypted private key") from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError("the PEM block is not an Ed25519 private key")
        return GrantSigningKey(kid, loaded)
    raw = _decode_b64(material)
    if raw is None or len(raw) != 32:
        raise ValueError("the key must be base64 of 32 raw Ed25519 private-key bytes")
    return GrantSigningKey(kid, Ed25519PrivateKey.from_private_bytes(raw))


def parse_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """JSON ``{"<kid>": "<key>"}`` → the key ring; each key is the base64 of the 32
    raw public bytes or a PEM ``PUBLIC KEY`` block. At least one key.

    Raises ``ValueError`` naming the bad kid.
    """
    shape = 'must be a JSON object {"<kid>": "<base64 Ed25519 public key>"} with at least one key'
    try:
        parsed = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise ValueError(shape) from None
    if not isinstance(parsed, dict) or not parsed:
        raise ValueError(shape)
    ring: dict[str, Ed25519PublicKey] = {}
    for kid, value in parsed.items():
        _check_kid(kid)
        if not isinstance(value, str):
            raise ValueError(f"the key {kid!r} is not a string")
        material = value.strip()
        if material.startswith("-----BEGIN"):
            try:
                loaded = serialization.load_pem_public_key(material.encode())
            except (ValueError, TypeError):
                raise ValueError(f"the key {kid!r} is not a PEM public key") from None
            if not isinstance(loaded, Ed25519PublicKey):
                raise ValueError(f"the key {kid!r} is not an Ed25519 public key")
            ring[kid] = loaded
            continue
        raw = _decode_b64(material)
        if raw is None or len(raw) != 32:
            raise ValueError(f"the key {kid!r} must be base64 of 32 raw Ed25519 public-key bytes")
        ring[kid] = Ed25519PublicKey.from_public_bytes(raw)
    return ring


# Development defaults: a fixed, published key pair so a service started by hand
# works out of the box; refused in production (see require_real_grant_keys).
# Embedded mode does not use it: it makes its own pair in var/dev-secrets.json.
DEV_GRANT_KID: Final = "dev"
_DEV_SEED: Final = hashlib.sha256(b"cachalot development publish-grant key; public").digest()
DEV_GRANT_SIGNING_KEY: Final = f"{DEV_GRANT_KID}:{base64.b64encode(_DEV_SEED).decode()}"
DEV_GRANT_PUBLIC_KEYS: Final = parse_signing_key(DEV_GRANT_SIGNING_KEY).public_setting()
_DEV_PUBLIC_RAW: Final = parse_signing_key(DEV_GRANT_SIGNING_KEY).public_raw()


def require_real_grant_key(environment: str, key: GrantSigningKey) -> None:
    """Refuse the published development signing key in production (like
    :func:`cachalot_common.settings.require_real_secret`); raises ``ValueError``."""
    if environment == "production" and key.public_raw() == _DEV_PUBLIC_RAW:
        raise ValueError("must be a real key in production, not the development key")


def require_real_grant_keys(environment: str, ring: GrantKeyRing) -> None:
    """Refuse, in production, a ring that trusts the published development key
    (anyone could sign grants with it); raises ``ValueError``."""
    if environment != "production":
        return
    for kid, key in ring.items():
        if _raw_public(key) == _DEV_PUBLIC_RAW:
            raise ValueError(f"the key {kid!r} is the development key; not in production")


def mint_grant(
    *,
    post_id: UUID,
    target_id: UUID,
    client_id: UUID,
    account_id: UUID,
    platform: str,
    attempt: int,
    key: GrantSigningKey,
    lifetime_s: float,
    issuer: str = GRANT_ISSUER,
    now_s: float | None = None,
) -> str:
    """A grant (compact JWT, EdDSA, header ``kid`` = ``key.kid``) for one dispatch of one target.

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
    return jwt.encode(claims, key.private_key, algorithm=GRANT_ALGORITHM, headers={"kid": key.kid})


def verify_grant(
    grant: str | None,
    *,
    keys: GrantKeyRing,
    issuer: str = GRANT_ISSUER,
    now_s: float | None = None,
) -> PublishGrant:
    """Check a grant's signature (EdDSA only, by the ring's key for its ``kid``),
    issuer, audience, type and expiry (``now_s``, default the wall clock; 5 s leeway).

    Raises :class:`GrantError` ``grant_expired`` when only the expiry fails and
    ``grant_missing`` when none is given (a command sent before grants existed,
    during a rolling upgrade): in both the caller may get a fresh one from a new
    dispatch; ``grant_invalid`` for anything else (another algorithm, a ``kid``
    not in the ring, a bad signature, wrong issuer, audience or type, a claim
    missing or malformed). Any other algorithm is refused before a key is
    touched, so an HS256 token "signed" with the public key is just invalid.
    Binding to an account or a command is the caller's check.
    """
    if not grant:
        raise GrantError("grant_missing", "no publish grant given")
    try:
        header = jwt.get_unverified_header(grant)
    except jwt.PyJWTError:
        raise GrantError("grant_invalid", "the publish grant is not a JWT") from None
    if header.get("alg") != GRANT_ALGORITHM:
        raise GrantError("grant_invalid", f"the publish grant is not signed with {GRANT_ALGORITHM}")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise GrantError("grant_invalid", "the publish grant's key id is not a known grant key")
    try:
        claims = jwt.decode(
            grant,
            key,
            algorithms=[GRANT_ALGORITHM],
            audience=GRANT_AUDIENCE,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={
                "require": ["exp", "iat", "iss", "aud", "jti", "typ"],
                "verify_exp": now_s is None,
                "verify_iat": now_s is None,
            },
        )
    except jwt.ExpiredSignatureError:
        raise GrantError("grant_expired", "the publish grant has expired") from None
    except jwt.PyJWTError as error:
        detail = f"invalid publish grant: {type(error).__name__}"
        raise GrantError("grant_invalid", detail) from None
    if claims.get("typ") != GRANT_TYPE:
        raise GrantError("grant_invalid", "not a publish grant")
    try:
        checked = PublishGrant(
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
    if now_s is not None and checked.expires_at + LEEWAY_S <= now_s:
        raise GrantError("grant_expired", "the publish grant has expired")
    return checked


def main(argv: list[str] | None = None) -> None:
    """``keygen [--kid KID]``: print a new pair as the two settings (shell/.env lines)."""
    parser = argparse.ArgumentParser(prog="python -m cachalot_common.grants")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="print a new publish-grant key pair")
    keygen.add_argument(
        "--kid", default=time.strftime("g%Y%m%d"), help="key id (default: g<today>)"
    )
    args = parser.parse_args(argv)
    try:
        key = generate_signing_key(args.kid)
    except ValueError as error:
        parser.error(str(error))
    print(f"# queue only (secret):\n{SIGNING_KEY_VARIABLE}='{key.setting()}'")
    print(f"# auth and publishers (public):\n{PUBLIC_KEYS_VARIABLE}='{key.public_setting()}'")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
