"""The queue's settings: the grant key (parsed at start, named when bad, no dev key in
production) and the media caps."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.grants import (
    DEV_GRANT_SIGNING_KEY,
    generate_signing_key,
    mint_grant,
    verify_grant,
)
from cachalot_common.settings import load_settings
from cachalot_queue.media_links import derive_key
from cachalot_queue.settings import QueueSettings

SESSION = "queue-settings-session-secret-0123456789"


def test_the_grant_signing_key_setting_signs_grants_its_public_half_verifies() -> None:
    key = generate_signing_key("q1")
    settings = QueueSettings(session_secret=SESSION, grant_signing_key=key.setting())
    ids = {name: uuid.uuid4() for name in ("post_id", "target_id", "client_id", "account_id")}
    signed = mint_grant(
        **ids, platform="tiktok", attempt=1, key=settings.grant_key(), lifetime_s=60
    )
    assert verify_grant(signed, keys=key.ring()).post_id == ids["post_id"]
    assert key.setting() not in repr(settings)


@pytest.mark.parametrize("value", ["", "q1", "q1:c2hvcnQ=", "q1:" + "A" * 43 + "!"])
def test_a_bad_grant_signing_key_stops_the_queue_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("CACHALOT_SESSION_SECRET", SESSION)
    monkeypatch.setenv("CACHALOT_GRANT_SIGNING_KEY", value)
    with pytest.raises(SystemExit) as stopped:
        load_settings(QueueSettings, "cachalot-queue")
    assert stopped.value.code == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    assert "CACHALOT_GRANT_SIGNING_KEY" in line
    material = value.partition(":")[2]
    assert not material or material not in line


def test_the_development_grant_key_is_refused_in_production_only() -> None:
    with pytest.raises(ValueError, match="development key"):
        QueueSettings(environment="production", session_secret=SESSION)
    dev = QueueSettings(session_secret=SESSION)
    assert dev.grant_signing_key.get_secret_value() == DEV_GRANT_SIGNING_KEY
    real = generate_signing_key("prod-1")
    production = QueueSettings(
        environment="production", session_secret=SESSION, grant_signing_key=real.setting()
    )
    assert production.grant_key().kid == "prod-1"


def test_a_media_link_key_shorter_than_32_bytes_is_refused_and_unset_it_is_derived() -> None:
    base = {"session_secret": "s" * 40, "environment": "test"}
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        QueueSettings(**base, media_link_key="short")  # type: ignore[arg-type]
    assert QueueSettings(**base).media_link_key_bytes() == derive_key("s" * 40)  # type: ignore[arg-type]
    chosen = QueueSettings(**base, media_link_key="k" * 32)  # type: ignore[arg-type]
    assert chosen.media_link_key_bytes() == b"k" * 32


@pytest.mark.parametrize("name", ["media_url_ttl_s", "media_cover_url_ttl_s"])
def test_a_signed_media_link_lasts_at_least_60_seconds(name: str) -> None:
    """A platform fetches some time after it is asked; the README says the minimum."""
    assert getattr(QueueSettings(session_secret=SESSION, **{name: 60}), name) == 60
    with pytest.raises(ValidationError, match=name):
        QueueSettings(session_secret=SESSION, **{name: 59})


def test_the_image_upload_cap_takes_every_image_some_platform_takes() -> None:
    """fresh10c LOW: images were capped at 8 MiB (Instagram's) at upload, so a 12 MB JPEG
    for TikTok (20 MB) or VK (50 MB) was refused before any platform's own limit could be
    checked naming the target. The default is the largest any publishable platform takes."""
    cap = QueueSettings(session_secret=SESSION).max_image_bytes
    takes = {s.name: s.limits.image.max_bytes or 0 for s in platforms.publishable()}
    assert {name: size for name, size in takes.items() if size > cap} == {}
    assert cap == max(takes.values())
