"""Auth settings: refuse what cannot work, with the variable's name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cachalot_auth.settings import AuthSettings
from cachalot_common.crypto import generate_key
from cachalot_common.grants import DEV_GRANT_PUBLIC_KEYS, generate_signing_key

GRANT_KEY = generate_signing_key("k1")


def make(**values):
    base = {
        "token_keys": f"v1:{generate_key()}",
        "session_secret": "s-0123456789abcdef",
        "grant_public_keys": GRANT_KEY.public_setting(),
    }
    return AuthSettings(**{**base, **values})


def test_a_short_key_is_refused_naming_its_version():
    with pytest.raises(ValidationError, match="key 'v1' is 16 bytes"):
        make(token_keys="v1:" + "A" * 22 + "==")


def test_service_credentials_must_be_a_json_map_of_secrets():
    with pytest.raises(ValidationError, match="JSON object"):
        make(service_credentials='["publisher-tiktok"]')
    assert make(service_credentials='{"a": "b"}').service_secrets() == {"a": "b"}


def test_a_placeholder_session_secret_is_refused_in_production():
    with pytest.raises(ValidationError, match="CACHALOT_SESSION_SECRET"):
        make(environment="production", session_secret="changeme")


def test_each_platform_has_its_own_callback_path():
    settings = make(public_url="https://cachalot.example/")
    assert settings.callback_url("tiktok") == "https://cachalot.example/api/v1/auth/tiktok/callback"
    assert settings.callback_url("vk") != settings.callback_url("tiktok")


def test_sandbox_hosts_give_the_sandbox_instagram_token_host_and_widget_page():
    settings = make(
        instagram_auth_base="http://127.0.0.1:8090/instagram",
        telegram_api_base="http://127.0.0.1:8090/telegram",
    )
    assert settings.instagram_token_url_base() == "http://127.0.0.1:8090/instagram"
    assert settings.telegram_widget_page() == "http://127.0.0.1:8090/sandbox/telegram/login"
    production = make()
    assert production.instagram_token_url_base() == "https://api.instagram.com"


def test_grant_public_keys_must_be_a_json_ring_of_ed25519_keys():
    with pytest.raises(ValidationError, match="grant_public_keys"):
        make(grant_public_keys='{"k1": "not-a-key"}')
    assert set(make().grant_keys()) == {"k1"}


def test_the_development_grant_key_is_refused_in_production_only():
    with pytest.raises(ValidationError, match=r"CACHALOT_GRANT_PUBLIC_KEYS: .*development key"):
        make(environment="production", grant_public_keys=DEV_GRANT_PUBLIC_KEYS)
    assert set(make(grant_public_keys=DEV_GRANT_PUBLIC_KEYS).grant_keys()) == {"dev"}
