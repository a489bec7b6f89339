"""Settings base for every service.

Every service has one typed settings class built on :class:`ServiceSettings`;
only that class reads the environment (prefix ``CACHALOT_``). A missing or
invalid value stops the service at start with one line naming the variable,
instead of a traceback or a half-configured process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import to_jsonable_python
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cachalot_common.grants import (
    DEV_GRANT_PUBLIC_KEYS,
    GrantKeyRing,
    parse_public_keys,
    require_real_grant_keys,
)

ENV_PREFIX = "CACHALOT_"

Environment = Literal["development", "test", "production"]


REQUEST_BODY_IDLE_S: Final = 60.0
"""Default seconds a write's body may send nothing (nginx's ``client_body_timeout``;
:mod:`cachalot_common.guards`, guard 5)."""


class ServiceSettings(BaseSettings):
    """What every CACHALOT process needs: identity, HTTP bind, logs, traces."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False, frozen=True
    )

    environment: Environment = "development"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces endpoint, e.g. http://jaeger:4318"
    )
    access_log_dir: Path | None = Field(
        default=None,
        description="Where HTTP access logs go (rotated daily, kept 14 days); unset: none.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Peers (IPs or CIDRs) whose X-Forwarded-For is believed.",
    )
    public_url: str | None = Field(
        default=None,
        description="The URL the browser sees (the gateway); its origin may send writes.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Other origins (scheme://host[:port]) whose pages may send state-changing "
            "requests; a browser page of any other origin is refused (403)."
        ),
    )
    request_body_idle_s: float = Field(
        default=REQUEST_BODY_IDLE_S,
        gt=0,
        description=(
            "Seconds a write's request body may send nothing before it is answered 408 and "
            "its connection closed (nginx's client_body_timeout)."
        ),
    )


class GrantVerifierSettings(BaseSettings):
    """``CACHALOT_GRANT_PUBLIC_KEYS`` for a service that verifies publish grants (auth, publishers).

    Mixed in beside :class:`ServiceSettings`: once every field is read, the
    development key is refused in production (:func:`require_real_grant_keys`).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False, frozen=True
    )

    grant_public_keys: str = Field(
        default=DEV_GRANT_PUBLIC_KEYS,
        description='JSON {"<kid>": "<base64 Ed25519 public key>"}: the queue\'s public keys '
        "that verify publish grants (old and new while rotating). The default trusts the "
        "published development key and is refused in production.",
    )

    @field_validator("grant_public_keys")
    @classmethod
    def _grant_keys_parse(cls, value: str) -> str:
        parse_public_keys(value)  # a malformed ring stops the service, naming the variable
        return value

    @model_validator(mode="after")
    def _real_grant_keys(self) -> Self:
        environment = str(getattr(self, "environment", "production"))
        try:
            require_real_grant_keys(environment, parse_public_keys(self.grant_public_keys))
        except ValueError as refused:  # a model-level error: name the variable ourselves
            raise ValueError(f"CACHALOT_GRANT_PUBLIC_KEYS: {refused}") from None
        return self

    def grant_keys(self) -> GrantKeyRing:
        """The parsed ``CACHALOT_GRANT_PUBLIC_KEYS`` (checked at start)."""
        return parse_public_keys(self.grant_public_keys)


class KafkaSettings(BaseSettings):
    """Broker connection: Apache Kafka in production, Tansu in embedded mode and tests."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False, frozen=True
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_idempotence: bool = Field(
        default=True,
        description="Idempotent producer; Tansu rejects it, so embedded mode turns it off.",
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=1000,
        le=300_000,
        description=(
            "Consumer session timeout: how soon a dead replica's partitions move on. "
            "Tansu holds a group join for about half of it, so embedded mode and tests "
            "use a short one."
        ),
    )
    kafka_max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1000,
        le=3_600_000,
        description=(
            "The consumer's max.poll.interval.ms (also its rebalance timeout), the same for "
            "every service. Every handler returns within seconds (long work is handed off), "
            "so Kafka's default is kept."
        ),
    )
    kafka_ensure_topics: bool = Field(
        default=False,
        description=(
            "Create the planned topics (cachalot_common.topic_plan) whenever the broker "
            "comes back without them; embedded mode turns it on (Tansu keeps nothing), "
            "compose and Kubernetes create topics with their own job."
        ),
    )


def id_list(value: Any) -> Any:
    """A list setting given as JSON (``[1, 2]``) or as a comma list (``1,2``); blank: empty."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


class OperatorSettings(BaseSettings):
    """``CACHALOT_OPERATOR_TELEGRAM_IDS``: who may sign in as an operator (DESIGN.md "Roles").

    Mixed in beside :class:`ServiceSettings` by every service that signs operators in.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False, frozen=True
    )

    operator_telegram_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Telegram user ids allowed to sign in as operators: a JSON list "
        "([111, 222]) or a comma list (111,222). Empty: nobody.",
    )

    @field_validator("operator_telegram_ids", mode="before")
    @classmethod
    def _ids_parse(cls, value: Any) -> Any:
        try:
            return id_list(value)
        except json.JSONDecodeError:
            raise ValueError("must be a JSON list of ids or a comma list") from None


SettingsT = TypeVar("SettingsT", bound=BaseSettings)

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})


def env_name(field: str) -> str:
    """The environment variable behind a settings field."""
    return f"{ENV_PREFIX}{field.upper()}"


def settings_env(settings: BaseSettings) -> dict[str, str]:
    """The environment that rebuilds ``settings`` in a child process.

    Every field set to a value becomes its ``CACHALOT_*`` variable (lists and
    mappings as JSON, which pydantic-settings reads back), so a helper process
    sees exactly the settings of its parent, including those given in code.
    """
    environment: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float | Path):
            text = str(value)
        else:
            text = json.dumps(to_jsonable_python(value))
        environment[env_name(name)] = text
    return environment


def describe_errors(error: ValidationError) -> str:
    """One line naming every bad variable and what is wrong with it."""
    parts: list[str] = []
    for item in error.errors():
        loc = item.get("loc") or ("?",)
        var = env_name(str(loc[0]))
        if item.get("type") == "missing":
            parts.append(f"{var} is required but not set")
        else:
            parts.append(f"{var}: {item.get('msg', 'invalid value')}")
    return "; ".join(parts)


def load_settings(cls: type[SettingsT], program: str | None = None) -> SettingsT:
    """Build settings from the environment or exit with one clear line.

    The exit code is 2 (usage error) so supervisors do not restart a process
    that can never start.
    """
    try:
        return cls()
    except ValidationError as error:
        name = program or cls.__name__
        print(f"{name}: configuration error: {describe_errors(error)}", file=sys.stderr)
        raise SystemExit(2) from None


def require_real_secret(environment: str, variable: str, value: SecretStr | None) -> None:
    """Refuse a missing or placeholder secret outside development and tests."""
    raw = value.get_secret_value() if value is not None else ""
    if environment == "production" and raw.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{variable} must be set to a real secret in production")
