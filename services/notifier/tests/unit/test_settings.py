"""Configuration errors stop the notifier at start with one line naming the variable."""

from __future__ import annotations

import pytest

from cachalot_common.settings import load_settings
from cachalot_notifier.settings import NotifierSettings


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TELEGRAM_BOT_TOKEN", "OPERATOR_CHAT_ID", "ENVIRONMENT", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(f"CACHALOT_{name}", raising=False)
    return monkeypatch


def test_missing_token_and_chat_stop_the_service_naming_both(environment, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_settings(NotifierSettings, "cachalot-notifier")
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "CACHALOT_TELEGRAM_BOT_TOKEN is required" in error
    assert "CACHALOT_OPERATOR_CHAT_ID is required" in error


def test_a_malformed_token_is_named_but_never_echoed(environment, capsys):
    environment.setenv("CACHALOT_TELEGRAM_BOT_TOKEN", "not-a-token-SECRETVALUE")
    environment.setenv("CACHALOT_OPERATOR_CHAT_ID", "12345")
    with pytest.raises(SystemExit):
        load_settings(NotifierSettings, "cachalot-notifier")
    error = capsys.readouterr().err
    assert "CACHALOT_TELEGRAM_BOT_TOKEN" in error
    assert "SECRETVALUE" not in error


@pytest.mark.parametrize("chat", ["12345", "-1001234567890", "@cachalot_ops"])
def test_operator_chat_is_a_numeric_id_or_a_channel_username(environment, chat):
    environment.setenv("CACHALOT_TELEGRAM_BOT_TOKEN", "1:abc")
    environment.setenv("CACHALOT_OPERATOR_CHAT_ID", chat)
    environment.setenv("CACHALOT_TELEGRAM_API_BASE", "http://127.0.0.1:8090/telegram/")
    settings = NotifierSettings()  # type: ignore[call-arg]
    assert settings.operator_chat_id == chat
    assert settings.telegram_api_base == "http://127.0.0.1:8090/telegram"


def test_an_empty_api_base_means_the_real_telegram(environment):
    environment.setenv("CACHALOT_TELEGRAM_BOT_TOKEN", "1:abc")
    environment.setenv("CACHALOT_OPERATOR_CHAT_ID", "12345")
    environment.setenv("CACHALOT_TELEGRAM_API_BASE", "")
    assert NotifierSettings().telegram_api_base == "https://api.telegram.org"  # type: ignore[call-arg]


def test_a_placeholder_token_is_refused_in_production(environment, capsys):
    environment.setenv("CACHALOT_ENVIRONMENT", "production")
    environment.setenv("CACHALOT_TELEGRAM_BOT_TOKEN", "1:changeme")
    environment.setenv("CACHALOT_OPERATOR_CHAT_ID", "12345")
    with pytest.raises(SystemExit):
        load_settings(NotifierSettings, "cachalot-notifier")


def test_a_scaled_retry_after_is_refused_in_production(environment, capsys):
    environment.setenv("CACHALOT_ENVIRONMENT", "production")
    environment.setenv("CACHALOT_TELEGRAM_BOT_TOKEN", "918273645:AAprodTOKENprodTOKENprodTOKEN_12")
    environment.setenv("CACHALOT_OPERATOR_CHAT_ID", "12345")
    environment.setenv("CACHALOT_TELEGRAM_RETRY_AFTER_SCALE", "0.01")
    with pytest.raises(SystemExit):
        load_settings(NotifierSettings, "cachalot-notifier")
    assert "CACHALOT_TELEGRAM_RETRY_AFTER_SCALE" in capsys.readouterr().err


def test_an_smtp_host_without_a_sender_or_the_secrets_it_needs_stops_the_service_naming_them(
    environment, capsys
):
    environment.setenv("CACHALOT_TELEGRAM_BOT_TOKEN", "1:abc")
    environment.setenv("CACHALOT_OPERATOR_CHAT_ID", "12345")
    environment.setenv("CACHALOT_SMTP_HOST", "smtp.example.com")
    for name in ("SMTP_FROM", "SERVICE_SECRET", "SESSION_SECRET", "SMTP_USERNAME"):
        environment.delenv(f"CACHALOT_{name}", raising=False)
    environment.setenv("CACHALOT_SMTP_PASSWORD", "relay-PASSWORD-never-shown")
    with pytest.raises(SystemExit):
        load_settings(NotifierSettings, "cachalot-notifier")
    error = capsys.readouterr().err
    for name in ("CACHALOT_SMTP_FROM", "CACHALOT_SERVICE_SECRET", "CACHALOT_SESSION_SECRET"):
        assert name in error
    assert "never-shown" not in error


def test_blank_smtp_variables_as_compose_passes_them_mean_no_email(environment):
    environment.setenv("CACHALOT_TELEGRAM_BOT_TOKEN", "1:abc")
    environment.setenv("CACHALOT_OPERATOR_CHAT_ID", "12345")
    for name in ("SMTP_HOST", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM", "SERVICE_SECRET"):
        environment.setenv(f"CACHALOT_{name}", "")
    settings = load_settings(NotifierSettings, "cachalot-notifier")
    assert not settings.email_enabled
    assert settings.smtp_password is None
