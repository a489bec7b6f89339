"""Settings of publisher-vk (environment prefix ``CACHALOT_``), validated at start.

The runtime's own knobs come from :class:`cachalot_publishing.settings.PublisherSettings`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from cachalot_publishing.settings import PublisherSettings


class Settings(PublisherSettings):
    http_port: int = Field(default=8109, ge=0, le=65535)
    service_name: str = "publisher-vk"
    service_secret: SecretStr = Field(
        default=SecretStr("dev-publisher-vk-secret"),
        description="This service's credential for auth's lease endpoint.",
    )
    vk_api_base: str = Field(
        default="https://api.vk.com",
        description="VK API base; methods are POSTed to <base>/method/<name>.",
    )
    vk_api_version: str = Field(default="5.199", description="The `v` every call sends.")
    vk_requests_per_second: float = Field(
        default=3.0,
        gt=0,
        description="Calls per second per user token (dev.vk.com: 3 for a user token).",
    )
    vk_request_timeout_s: float = Field(default=120.0, gt=0)
    vk_upload_timeout_s: float = Field(default=3600.0, gt=0)
