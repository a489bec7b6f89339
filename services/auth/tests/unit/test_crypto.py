"""Token custody: AES-256-GCM with associated data and a versioned key ring."""

from __future__ import annotations

import base64
import os

import pytest

from cachalot_common.crypto import (
    KeyRing,
    KeyRingError,
    TokenContext,
    TokenDecryptionError,
    generate_key,
)

ACCESS = TokenContext(account_id="a1", platform="tiktok", kind="access")


def ring(*versions: str) -> tuple[KeyRing, dict[str, str]]:
    keys = {v: generate_key() for v in versions}
    return KeyRing.from_setting(",".join(f"{v}:{k}" for v, k in keys.items())), keys


def test_a_token_round_trips_and_the_ciphertext_names_the_newest_key() -> None:
    keys, _ = ring("v2", "v1")
    sealed = keys.encrypt("act.secret-token-value", ACCESS)
    assert sealed.startswith("v2.")
    assert "secret-token-value" not in sealed
    assert keys.decrypt(sealed, ACCESS) == "act.secret-token-value"


def test_every_encryption_uses_a_fresh_nonce() -> None:
    keys, _ = ring("v1")
    assert keys.encrypt("same", ACCESS) != keys.encrypt("same", ACCESS)


@pytest.mark.parametrize(
    "other",
    [
        TokenContext(account_id="a2", platform="tiktok", kind="access"),
        TokenContext(account_id="a1", platform="youtube", kind="access"),
        TokenContext(account_id="a1", platform="tiktok", kind="refresh"),
    ],
)
def test_a_ciphertext_moved_to_another_row_fails_and_names_the_account(
    other: TokenContext,
) -> None:
    keys, _ = ring("v1")
    sealed = keys.encrypt("act.secret", ACCESS)
    with pytest.raises(TokenDecryptionError) as caught:
        keys.decrypt(sealed, other)
    assert other.account_id in str(caught.value)
    assert "act.secret" not in str(caught.value)


def test_a_tampered_ciphertext_fails() -> None:
    keys, _ = ring("v1")
    sealed = keys.encrypt("act.secret", ACCESS)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(TokenDecryptionError):
        keys.decrypt(flipped, ACCESS)


def test_old_rows_decrypt_after_a_new_key_is_added_and_reseal_moves_them() -> None:
    old, keys = ring("v1")
    sealed = old.encrypt("rft.secret", ACCESS)
    new = KeyRing.from_setting(f"v2:{generate_key()},v1:{keys['v1']}")
    assert new.decrypt(sealed, ACCESS) == "rft.secret"
    moved = new.reseal(sealed, ACCESS)
    assert KeyRing.version_of(moved) == "v2"
    assert new.decrypt(moved, ACCESS) == "rft.secret"


def test_a_retired_key_version_is_a_clear_error() -> None:
    old, _ = ring("v1")
    sealed = old.encrypt("x-token", ACCESS)
    newer, _ = ring("v2")
    with pytest.raises(TokenDecryptionError, match="'v1' is not in the key ring"):
        newer.decrypt(sealed, ACCESS)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("", "empty"),
        ("v1", "'<version>:<base64 key>'"),
        (f"v1:{base64.b64encode(os.urandom(16)).decode()}", "16 bytes"),
        ("v1:not base64!!", "not valid base64"),
        (f"v1:{generate_key()},v1:{generate_key()}", "appears twice"),
        (f"bad.version:{generate_key()}", "must be 1-16 characters"),
    ],
)
def test_a_malformed_key_ring_is_refused_with_a_clear_message(setting: str, message: str) -> None:
    with pytest.raises(KeyRingError, match=message):
        KeyRing.from_setting(setting)


def test_url_safe_keys_are_accepted() -> None:
    raw = os.urandom(32)
    keys = KeyRing.from_setting("k1:" + base64.urlsafe_b64encode(raw).decode().rstrip("="))
    assert keys.decrypt(keys.encrypt("t-value", ACCESS), ACCESS) == "t-value"


def test_the_key_ring_repr_shows_versions_only() -> None:
    keys, material = ring("v1")
    assert material["v1"] not in repr(keys)
