"""One span per TikTok call, and no token or upload secret in any of them.

The client talks to the real sandbox app in-process (ASGI), instrumented the
way the service instruments its HTTP client.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cachalot_common.telemetry import instrument_httpx_client
from cachalot_publisher_tiktok.chunking import plan_chunks
from cachalot_publisher_tiktok.tiktok import TikTokClient
from cachalot_publishing.spans import read_span
from cachalot_sandbox.main import create_app as create_sandbox
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tokens import registry


@pytest.mark.timeout(300)
async def test_each_platform_call_is_one_span_without_secrets(tmp_path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sandbox = create_sandbox(SandboxSettings(http_port=8090))
    token = registry.issue(
        platform="tiktok", subject="open-spans", scopes={"video.publish"}, lifetime_s=600
    ).token
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00" * 4096)
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8090") as http:
        instrument_httpx_client(http, provider)
        client = TikTokClient(http, "http://127.0.0.1:8090/tiktok")
        await client.creator_info(token)
        plan = plan_chunks(4096)
        post_info = {"title": "t", "privacy_level": "SELF_ONLY"}
        publish_id, upload_url = await client.init_direct_post(token, post_info, plan)
        await client.put_chunk(
            upload_url,
            read_span(video, 0, 4096, 1024),
            first=0,
            length=4096,
            total=4096,
            content_type="video/mp4",
        )
        status = await client.fetch_status(token, publish_id)
    assert status.status == "PUBLISH_COMPLETE"
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    upload_token = upload_url.split("upload_token=")[1]
    for span in spans:
        text = " ".join(f"{k}={v}" for k, v in (span.attributes or {}).items())
        assert token not in text
        assert upload_token not in text
