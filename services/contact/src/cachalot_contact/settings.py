"""Settings of the contact service (only this class reads the environment).

``CACHALOT_CONTACT_LOG_DIR`` (default ``./var/contact``)
    Where the append-only log (``contact.log.jsonl``) and the relay cursor live.
``CACHALOT_CONTACT_DEFAULT_REGION`` (default unset)
    ISO 3166 region (``RU``, ``US``...) assumed for phone numbers typed
    without ``+country``; unset means such numbers are refused with a clear
    message asking for the country code.
``CACHALOT_CONTACT_RATE_LIMITS`` (default ``5/minute;50/day``)
    Per-client-IP limits in ``limits`` notation, ``;``-separated.
``CACHALOT_RATE_LIMIT_STORAGE`` (default ``memory://``)
    ``memory://`` for one process, or a store shared by several replicas:
    ``redis://host:6379/0`` (also ``rediss://``, ``redis+sentinel://``,
    ``redis+cluster://``, ``valkey://``).
``CACHALOT_CONTACT_RELAY`` (default ``process``)
    Where the relay runs: ``process`` — a child process the service starts,
    watches and restarts (it uses a second core, not the HTTP loop's);
    ``inline`` — a task in the HTTP process; ``external`` — not here: run
    ``python -m cachalot_contact relay`` beside it (a sidecar sharing the log
    directory). Tests also use ``external`` for "appended, not yet
    published".
``CACHALOT_CONTACT_MAX_BODY_BYTES`` (default: the form's worst case, 52 KiB)
    Larger request bodies answer 413. The default is the largest body a
    valid form can be with every character ``\\u``-escaped (a character
    outside the BMP as a surrogate pair, 12 bytes): ``schemas.MAX_BODY_BYTES``
    from ``cachalot_common.json_size``. The limits a person meets are the
    fields' character limits, checked on the decoded text (422 naming the
    field); set this lower only knowing that some valid forms are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import phonenumbers
from limits import RateLimitItem, parse_many
from pydantic import Field, field_validator

from cachalot_common.settings import KafkaSettings, ServiceSettings
from cachalot_contact.schemas import MAX_BODY_BYTES


class ContactSettings(ServiceSettings, KafkaSettings):
    """Configuration of ``cachalot-contact``."""

    http_port: int = Field(default=8101, ge=0, le=65535)
    contact_log_dir: Path = Field(
        default=Path("var/contact"), description="Directory of the log and the relay cursor."
    )
    contact_default_region: str | None = Field(
        default=None,
        description="Region for phone numbers without a +country prefix; unset refuses them.",
    )
    contact_rate_limits: str = Field(
        default="5/minute;50/day", description="Per client IP, e.g. '5/minute;50/day'."
    )
    rate_limit_storage: str = Field(
        default="memory://", description="memory:// or redis://… shared by every replica."
    )
    contact_relay: Literal["process", "inline", "external"] = Field(
        default="process",
        description="process: a child process; inline: in the HTTP process; external: elsewhere.",
    )
    contact_max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1024)

    @field_validator("contact_default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}: use an ISO 3166 code such as RU or US")
        return region

    @field_validator("contact_rate_limits")
    @classmethod
    def _parseable_limits(cls, value: str) -> str:
        try:
            parsed = parse_many(value)
        except ValueError:
            parsed = []
        if not parsed:
            raise ValueError("expected limits such as '5/minute;50/day'")
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].removeprefix("async+")
        if scheme not in _STORAGES:
            raise ValueError(f"unsupported store {scheme!r}: use memory:// or redis://…")
        return value

    @property
    def log_path(self) -> Path:
        """The append-only log itself."""
        return self.contact_log_dir / "contact.log.jsonl"

    @property
    def cursor_path(self) -> Path:
        """How far the relay has published."""
        return self.contact_log_dir / "relay.cursor"

    def rate_limits(self) -> list[RateLimitItem]:
        return list(parse_many(self.contact_rate_limits))


_STORAGES = frozenset(
    {"memory", "redis", "rediss", "redis+sentinel", "redis+cluster", "valkey", "valkeys"}
)
