"""Telegram Login Widget verification, with vectors made as Telegram documents."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from cachalot_auth.providers.base import PlatformOAuthError
from cachalot_auth.providers.telegram import verify_widget

BOT = "123456789:AAsandboxsandboxsandboxsandboxsandb"


def signed(**fields: str) -> dict[str, str]:
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    key = hashlib.sha256(BOT.encode()).digest()
    return {**fields, "hash": hmac.new(key, check.encode(), hashlib.sha256).hexdigest()}


def test_widget_data_signed_with_our_bot_token_is_accepted():
    data = signed(id="42", first_name="Ann", username="ann", auth_date=str(int(time.time())))
    user = verify_widget({**data, "state": "ignored"}, bot_token=BOT, max_age_s=600)
    assert (user.id, user.display_name) == ("42", "Ann")


def test_a_changed_field_breaks_the_signature():
    data = signed(id="42", first_name="Ann", auth_date=str(int(time.time())))
    with pytest.raises(PlatformOAuthError, match="invalid_signature"):
        verify_widget({**data, "id": "43"}, bot_token=BOT, max_age_s=600)


def test_data_signed_with_another_bot_is_refused():
    data = signed(id="42", first_name="Ann", auth_date=str(int(time.time())))
    with pytest.raises(PlatformOAuthError, match="invalid_signature"):
        verify_widget(
            data, bot_token="987654321:AAotherotherotherotherotherotherothe", max_age_s=600
        )


def test_stale_auth_date_is_refused():
    data = signed(id="42", first_name="Ann", auth_date=str(int(time.time()) - 3600))
    with pytest.raises(PlatformOAuthError, match="expired"):
        verify_widget(data, bot_token=BOT, max_age_s=600)


def test_missing_hash_is_refused():
    with pytest.raises(PlatformOAuthError, match="incomplete"):
        verify_widget({"id": "42", "auth_date": "1"}, bot_token=BOT, max_age_s=600)


def test_a_field_telegram_adds_later_is_signed_over_and_accepted():
    # Telegram signs every field it sends; one we have never heard of must not break sign-in.
    data = signed(
        id="42",
        first_name="Ann",
        auth_date=str(int(time.time())),
        allows_write_to_pm="true",
        language_code="en",
    )
    user = verify_widget({**data, "state": "ours"}, bot_token=BOT, max_age_s=600)
    assert user.id == "42"


def test_a_tampered_unknown_field_breaks_the_signature():
    data = signed(id="42", auth_date=str(int(time.time())), allows_write_to_pm="true")
    with pytest.raises(PlatformOAuthError, match="invalid_signature"):
        verify_widget({**data, "allows_write_to_pm": "false"}, bot_token=BOT, max_age_s=600)


def test_an_unsigned_field_added_to_signed_data_breaks_the_signature():
    data = signed(id="42", auth_date=str(int(time.time())))
    with pytest.raises(PlatformOAuthError, match="invalid_signature"):
        verify_widget({**data, "username": "admin"}, bot_token=BOT, max_age_s=600)
