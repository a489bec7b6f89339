"""PKCE (RFC 7636) checks, with the encodings the platforms actually use.

TikTok's desktop doc hex-encodes the SHA-256 of the verifier instead of
base64url-encoding it; the other platforms follow the RFC.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Literal

from cachalot_common.untrusted import same_secret

Encoding = Literal["hex", "base64url"]

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def challenge_for(verifier: str, *, method: str = "S256", encoding: Encoding = "base64url") -> str:
    """The challenge a client derives from ``verifier`` (also used by tests)."""
    if method.upper() == "PLAIN":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if encoding == "hex":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def valid_verifier(verifier: str) -> bool:
    """43–128 characters of the RFC 7636 unreserved set."""
    return bool(_VERIFIER.fullmatch(verifier))


def verify(verifier: str, challenge: str, *, method: str, encoding: Encoding) -> bool:
    """True when ``verifier`` hashes to ``challenge`` (constant-time compare)."""
    if not valid_verifier(verifier):
        return False
    expected = challenge_for(verifier, method=method, encoding=encoding)
    return same_secret(challenge, expected)
