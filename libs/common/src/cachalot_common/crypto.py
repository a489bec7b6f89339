"""Token custody: AES-256-GCM under a versioned key ring.

Why this shape (DESIGN.md, "Token custody"):

* **AES-256-GCM** (``cryptography``'s ``AESGCM``): authenticated, so a
  tampered ciphertext fails loudly instead of decrypting to garbage.
* **A fresh 96-bit random nonce per encryption**, stored in front of the
  ciphertext; a nonce is never reused with a key.
* **Associated data = the row's identity** (account id, platform, token
  kind): a ciphertext copied into another account's row, or swapped between
  the access and the refresh token of one account, does not decrypt.
* **A versioned key ring**: new ciphertexts use the newest key; older keys
  stay to read old rows until ``rotate-keys`` has re-encrypted them. The
  ciphertext names its key version, so reading never guesses.

Key ring setting (``CACHALOT_TOKEN_KEYS``)::

    v2:<base64 of 32 random bytes>,v1:<base64 of 32 random bytes>

Comma-separated ``<version>:<key>`` pairs, **newest first**. A version is
1–16 characters of ``[A-Za-z0-9_-]`` (no ``:`` or ``.``); a key is exactly 32
bytes in standard or URL-safe base64 (``python -c "import os,base64;
print(base64.b64encode(os.urandom(32)).decode())"``). Rotate by putting a new
pair in front, deploying, then running ``rotate-keys``; drop the old pair
only once no row uses it.

Sealed form (what the database stores, ASCII)::

    <version>.<base64url(nonce[12] || ciphertext || tag[16])>
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_AAD_PREFIX = b"cachalot-token|1"


class KeyRingError(ValueError):
    """The key ring setting is malformed; the message names what is wrong (never a key)."""


class TokenDecryptionError(Exception):
    """A stored token could not be decrypted; names the row, never the token."""

    def __init__(self, context: TokenContext, reason: str) -> None:
        super().__init__(
            f"cannot decrypt the {context.kind} token of account {context.account_id} "
            f"({context.platform}): {reason}"
        )
        self.context = context
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenContext:
    """Which row a token belongs to; bound into the ciphertext as associated data."""

    account_id: str
    platform: str
    kind: str

    def associated_data(self) -> bytes:
        parts = (self.account_id, self.platform, self.kind)
        if any("|" in part for part in parts):
            raise ValueError("token context parts must not contain '|'")
        return b"|".join((_AAD_PREFIX, *(part.encode() for part in parts)))


def generate_key() -> str:
    """A fresh key in the setting's encoding (standard base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _decode_key(version: str, encoded: str) -> bytes:
    text = encoded.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = (
            base64.urlsafe_b64decode(padded)
            if ("-" in text or "_" in text)
            else base64.b64decode(padded, validate=True)
        )
    except (binascii.Error, ValueError):
        raise KeyRingError(f"key {version!r} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyRingError(
            f"key {version!r} is {len(raw)} bytes; AES-256 needs exactly {KEY_BYTES} bytes "
            "(base64 of 32 random bytes)"
        )
    return raw


class KeyRing:
    """Encrypts with the newest key, decrypts with whichever key a ciphertext names."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        ordered = list(keys)
        if not ordered:
            raise KeyRingError("the key ring is empty; set at least one <version>:<key> pair")
        self._keys: dict[str, AESGCM] = {}
        for version, raw in ordered:
            if not _VERSION.match(version):
                raise KeyRingError(
                    f"key version {version!r} must be 1-16 characters of [A-Za-z0-9_-]"
                )
            if version in self._keys:
                raise KeyRingError(f"key version {version!r} appears twice")
            if len(raw) != KEY_BYTES:
                raise KeyRingError(f"key {version!r} must be exactly {KEY_BYTES} bytes")
            self._keys[version] = AESGCM(raw)
        self.primary_version = ordered[0][0]
        self.versions: tuple[str, ...] = tuple(v for v, _ in ordered)

    @classmethod
    def from_setting(cls, value: str) -> KeyRing:
        """Parse ``v2:<b64>,v1:<b64>`` (newest first)."""
        pairs: list[tuple[str, bytes]] = []
        for index, item in enumerate(p.strip() for p in value.split(",")):
            if not item:
                continue
            version, sep, encoded = item.partition(":")
            if not sep or not encoded.strip():
                raise KeyRingError(f"entry {index + 1} is not '<version>:<base64 key>' (e.g. v1:…)")
            pairs.append((version.strip(), _decode_key(version.strip(), encoded)))
        return cls(pairs)

    def __repr__(self) -> str:
        return f"KeyRing(versions={self.versions!r})"

    def encrypt(self, plaintext: str, context: TokenContext) -> str:
        """Seal ``plaintext`` for one row under the newest key."""
        if not plaintext:
            raise ValueError("refusing to encrypt an empty token")
        nonce = os.urandom(NONCE_BYTES)
        aead = self._keys[self.primary_version]
        sealed = aead.encrypt(nonce, plaintext.encode(), context.associated_data())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{self.primary_version}.{body}"

    def decrypt(self, sealed: str, context: TokenContext) -> str:
        """Open a sealed token of this row, or raise :class:`TokenDecryptionError`."""
        version, _, body = sealed.partition(".")
        aead = self._keys.get(version)
        if aead is None:
            raise TokenDecryptionError(context, f"key version {version!r} is not in the key ring")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise TokenDecryptionError(context, "ciphertext is not base64url") from None
        if len(raw) < NONCE_BYTES + 16:
            raise TokenDecryptionError(context, "ciphertext is truncated")
        try:
            plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.associated_data())
        except InvalidTag:
            raise TokenDecryptionError(
                context, "authentication failed (wrong key, wrong row, or tampered)"
            ) from None
        token = plain.decode()
        if not token:
            raise TokenDecryptionError(context, "decrypted to an empty token")
        return token

    @staticmethod
    def version_of(sealed: str) -> str:
        """The key version a sealed token names."""
        return sealed.partition(".")[0]

    def reseal(self, sealed: str, context: TokenContext) -> str:
        """The same token sealed under the newest key (for ``rotate-keys``)."""
        return self.encrypt(self.decrypt(sealed, context), context)
