"""Publish grants: what the queue signs and auth checks before leasing a token."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from cachalot_common.events import MediaRef, PublishPost
from cachalot_common.grants import (
    DEV_GRANT_PUBLIC_KEYS,
    DEV_GRANT_SIGNING_KEY,
    GrantError,
    generate_signing_key,
    main,
    mint_grant,
    parse_public_keys,
    parse_signing_key,
    require_real_grant_key,
    require_real_grant_keys,
    verify_grant,
)
from cachalot_common.leases import LeaseRefused
from cachalot_common.redaction import redact
from cachalot_common.service_auth import PUBLISHER_SERVICES, mint_service_token, publisher_of

QUEUE_SECRET = "queue-secret-for-these-tests-0123456789"
KEY = generate_signing_key("k1")
KEYS = KEY.ring()
IDS = {k: uuid.uuid4() for k in ("post_id", "target_id", "client_id", "account_id")}


def grant(**overrides: object) -> str:
    values: dict[str, object] = {
        **IDS,
        "platform": "youtube",
        "attempt": 2,
        "key": KEY,
        "lifetime_s": 3600,
        **overrides,
    }
    return mint_grant(**values)  # type: ignore[arg-type]


def test_a_grant_binds_the_post_target_client_account_platform_and_attempt() -> None:
    checked = verify_grant(grant(), keys=KEYS)
    assert (checked.post_id, checked.target_id) == (IDS["post_id"], IDS["target_id"])
    assert (checked.client_id, checked.account_id) == (IDS["client_id"], IDS["account_id"])
    assert (checked.platform, checked.attempt) == ("youtube", 2)
    assert checked.expires_at > time.time() + 3500


def claims_of(signed: str) -> dict[str, object]:
    return dict(jwt.decode(signed, options={"verify_signature": False}))


def hs256(secret: str | bytes, kid: str = "k1") -> str:
    """The claims of a real grant, signed HS256 (the old scheme) with ``secret``."""
    return jwt.encode(claims_of(grant()), secret, algorithm="HS256", headers={"kid": kid})


@pytest.mark.parametrize(
    ("given", "keys"),
    [
        pytest.param("not.a.jwt", KEYS, id="not a JWT"),
        pytest.param(grant(key=generate_signing_key("k1")), KEYS, id="another key, same kid"),
        pytest.param(grant(), generate_signing_key("k1").ring(), id="verified with a wrong key"),
        pytest.param(grant(key=generate_signing_key("k9")), KEYS, id="unknown kid"),
        pytest.param(grant(), {}, id="empty ring"),
        pytest.param(grant(issuer="publisher-youtube"), KEYS, id="another issuer"),
        pytest.param(hs256(QUEUE_SECRET), KEYS, id="HS256 with a guessed secret"),
        pytest.param(
            jwt.encode(claims_of(grant()), None, algorithm="none", headers={"kid": "k1"}),
            KEYS,
            id="unsigned (alg none)",
        ),
    ],
)
def test_a_grant_not_signed_by_the_queues_private_key_is_invalid(
    given: str, keys: dict[str, object]
) -> None:
    with pytest.raises(GrantError) as refused:
        verify_grant(given, keys=keys)  # type: ignore[arg-type]
    assert refused.value.code == "grant_invalid"


@pytest.mark.parametrize(
    "hmac_key",
    [
        KEY.public_raw(),
        base64.b64encode(KEY.public_raw()).decode(),
        json.loads(KEY.public_setting())["k1"],
    ],
    ids=["raw public bytes", "base64 public key", "the setting's text"],
)
def test_alg_confusion_an_hs256_grant_keyed_with_the_public_key_is_refused(
    hmac_key: str | bytes,
) -> None:
    """Anyone has the public key; a verifier that let the token pick HS256 would take
    the public key as the HMAC secret and accept this forgery."""
    with pytest.raises(GrantError) as refused:
        verify_grant(hs256(hmac_key), keys=KEYS)
    assert refused.value.code == "grant_invalid"


def test_a_ring_of_two_keys_verifies_grants_of_both_while_rotating() -> None:
    old, new = generate_signing_key("2026-01"), generate_signing_key("2026-02")
    ring = {**old.ring(), **new.ring()}
    assert verify_grant(grant(key=old), keys=ring).post_id == IDS["post_id"]
    assert verify_grant(grant(key=new), keys=ring).post_id == IDS["post_id"]
    with pytest.raises(GrantError):  # the old key dropped once its grants expired
        verify_grant(grant(key=old), keys=new.ring())


def test_keys_round_trip_through_their_settings_in_base64_and_pem() -> None:
    from cryptography.hazmat.primitives import serialization

    key = parse_signing_key(KEY.setting())
    ring = parse_public_keys(KEY.public_setting())
    assert verify_grant(grant(key=key), keys=ring).attempt == 2
    pem_private = KEY.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pem_public = (
        KEY.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    from_pem = parse_signing_key(f"k1:{pem_private}")
    assert verify_grant(grant(key=from_pem), keys=parse_public_keys(json.dumps({"k1": pem_public})))
    urlsafe = KEY.setting().replace("+", "-").replace("/", "_").rstrip("=")
    assert parse_signing_key(urlsafe).public_raw() == KEY.public_raw()


@pytest.mark.parametrize(
    "setting", ["", "k1", "k1:", "k1:not-base64!", "k1:" + "QUFB" * 4, "bad kid:" + "A" * 44]
)
def test_a_malformed_signing_key_is_refused_without_echoing_it(setting: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_signing_key(setting)
    material = setting.partition(":")[2]
    assert not material or material not in str(refused.value)


@pytest.mark.parametrize(
    "setting", ["", "{}", "[]", "not json", '{"k1": 5}', '{"k1": "QUFB"}', '{"a b": "x"}']
)
def test_a_malformed_public_key_ring_is_refused(setting: str) -> None:
    with pytest.raises(ValueError):
        parse_public_keys(setting)


def test_the_published_development_keys_are_refused_in_production_only() -> None:
    dev_key = parse_signing_key(DEV_GRANT_SIGNING_KEY)
    dev_ring = parse_public_keys(DEV_GRANT_PUBLIC_KEYS)
    for environment in ("development", "test"):
        require_real_grant_key(environment, dev_key)
        require_real_grant_keys(environment, dev_ring)
    with pytest.raises(ValueError, match="development key"):
        require_real_grant_key("production", dev_key)
    with pytest.raises(ValueError, match="development key"):  # even renamed, beside a real one
        require_real_grant_keys("production", {**KEYS, "renamed": dev_ring["dev"]})
    require_real_grant_key("production", KEY)
    require_real_grant_keys("production", KEYS)


def test_keygen_prints_a_pair_that_signs_and_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    main(["keygen", "--kid", "g1"])
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines() if "=" in line)
    key = parse_signing_key(lines["CACHALOT_GRANT_SIGNING_KEY"].strip("'"))
    ring = parse_public_keys(lines["CACHALOT_GRANT_PUBLIC_KEYS"].strip("'"))
    assert key.kid == "g1"
    assert set(ring) == {"g1"}
    assert verify_grant(grant(key=key), keys=ring).platform == "youtube"


@pytest.mark.parametrize("given", [None, ""])
def test_a_command_without_a_grant_is_refused_as_missing_which_a_new_dispatch_mends(
    given: str | None,
) -> None:
    """A command queued before grants existed (rolling upgrade) comes back retryable."""
    with pytest.raises(GrantError) as refused:
        verify_grant(given, keys=KEYS)
    assert refused.value.code == "grant_missing"
    assert LeaseRefused(403, refused.value.code, "no grant").retryable


def test_a_service_token_is_not_a_grant() -> None:
    token = mint_service_token(service="queue", secret=QUEUE_SECRET)
    with pytest.raises(GrantError) as refused:
        verify_grant(token, keys=KEYS)
    assert refused.value.code == "grant_invalid"


def test_an_eddsa_token_of_the_right_key_but_not_a_grant_is_invalid() -> None:
    claims = {**claims_of(grant()), "typ": "service"}
    token = jwt.encode(claims, KEY.private_key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(GrantError) as refused:
        verify_grant(token, keys=KEYS)
    assert refused.value.code == "grant_invalid"


def test_an_expired_grant_says_so_and_its_message_holds_no_grant() -> None:
    stale = grant(now_s=time.time() - 7200)
    with pytest.raises(GrantError) as refused:
        verify_grant(stale, keys=KEYS)
    assert refused.value.code == "grant_expired"
    assert stale not in str(refused.value)


def test_each_platform_has_exactly_one_publisher_service() -> None:
    assert publisher_of("tiktok") == "publisher-tiktok"
    assert publisher_of("youtube") == "publisher-youtube"
    assert publisher_of("myspace") is None
    assert len(set(PUBLISHER_SERVICES.values())) == len(PUBLISHER_SERVICES)


def test_a_command_keeps_its_grant_out_of_repr_and_logs_mask_it() -> None:
    signed = grant()
    command = PublishPost(
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
    assert PublishPost.model_validate_json(command.model_dump_json()).grant == signed
    assert signed not in redact(f"lease for {command.model_dump_json()}")
