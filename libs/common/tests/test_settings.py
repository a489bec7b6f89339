"""A bad configuration stops a service at start with one line naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import SecretStr

from cachalot_common.settings import ServiceSettings, load_settings, require_real_secret


class _NeedsChat(ServiceSettings):
    operator_chat_id: int


def test_missing_required_setting_exits_with_one_line_naming_it() -> None:
    code = (
        "from cachalot_common.settings import ServiceSettings, load_settings\n"
        "class S(ServiceSettings):\n    operator_chat_id: int\n"
        "load_settings(S, 'cachalot-x')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": ""}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "CACHALOT_OPERATOR_CHAT_ID is required" in lines[0]


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CACHALOT_OPERATOR_CHAT_ID", "not-a-number")
    with pytest.raises(SystemExit) as exited:
        load_settings(_NeedsChat, "cachalot-x")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "CACHALOT_OPERATOR_CHAT_ID:" in err
    assert "integer" in err  # says what it expects
    assert "not-a-number" not in err  # never echoes a value: a setting may be a secret


def test_placeholder_secret_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="CACHALOT_SESSION_SECRET"):
        require_real_secret("production", "CACHALOT_SESSION_SECRET", SecretStr("changeme"))
    require_real_secret("development", "CACHALOT_SESSION_SECRET", SecretStr("changeme"))


def test_settings_env_rebuilds_the_same_settings_in_a_child(monkeypatch):
    """A helper process given ``settings_env(s)`` reads back exactly ``s``."""
    from pathlib import Path

    from cachalot_common.settings import KafkaSettings, ServiceSettings, settings_env

    class Both(ServiceSettings, KafkaSettings):
        pass

    original = Both(
        trusted_proxies=["10.0.0.0/8", "127.0.0.1"],
        access_log_dir=Path("/tmp/access"),
        kafka_idempotence=False,
        http_port=8123,
    )
    environment = settings_env(original)
    assert environment["CACHALOT_TRUSTED_PROXIES"] == '["10.0.0.0/8", "127.0.0.1"]'
    assert "CACHALOT_OTLP_ENDPOINT" not in environment  # None stays unset
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Both() == original


def test_operator_ids_are_read_from_a_json_list_or_a_comma_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cachalot_common.settings import OperatorSettings

    for raw in ("[111, 222]", "111,222", " 111 , 222 "):
        monkeypatch.setenv("CACHALOT_OPERATOR_TELEGRAM_IDS", raw)
        assert OperatorSettings().operator_telegram_ids == [111, 222]
    monkeypatch.setenv("CACHALOT_OPERATOR_TELEGRAM_IDS", "")
    assert OperatorSettings().operator_telegram_ids == []
    monkeypatch.setenv("CACHALOT_OPERATOR_TELEGRAM_IDS", "alice")
    with pytest.raises(ValueError, match="operator_telegram_ids"):
        OperatorSettings()
