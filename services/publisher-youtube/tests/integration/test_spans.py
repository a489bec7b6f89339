"""One span per platform call, and neither the token nor the upload id in any of them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cachalot_common.events import YouTubeOptions
from cachalot_common.telemetry import instrument_httpx_client
from cachalot_publisher_youtube.youtube import SessionStatus, YouTubeUploads
from cachalot_testing.processes import ServiceProcess

from .conftest import CHUNK
from .harness import UPLOAD_SCOPE

pytestmark = pytest.mark.integration


async def test_each_platform_call_is_one_span_without_secrets(
    sandbox: ServiceProcess, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    token = httpx.post(
        f"{sandbox.base_url}/sandbox/tokens",
        json={"platform": "google", "subject": "UCspans", "scopes": [UPLOAD_SCOPE]},
    ).json()["access_token"]
    video = tmp_path / "v.mp4"
    video.write_bytes(os.urandom(CHUNK + 99))
    total = video.stat().st_size

    async with httpx.AsyncClient() as client:
        instrument_httpx_client(client, provider)
        uploads = YouTubeUploads(client, api_base=f"{sandbox.base_url}/youtube", read_bytes=65536)
        uri = await uploads.start_session(
            token, YouTubeOptions(title="Spans"), total=total, content_type="video/mp4"
        )

        async def put(first: int, size: int) -> SessionStatus:
            return await uploads.put_chunk(
                token,
                session_uri=uri,
                path=video,
                first=first,
                size=size,
                total=total,
                content_type="video/mp4",
            )

        first = await put(0, CHUNK)
        status = await uploads.query_status(token, uri, total=total)
        done = await put(CHUNK, total - CHUNK)

    assert first.received == status.received == CHUNK
    assert done.video is not None
    spans = exporter.get_finished_spans()
    methods = [dict(s.attributes or {}) for s in spans]
    assert [m.get("http.request.method") or m.get("http.method") for m in methods] == [
        "POST",
        "PUT",
        "PUT",
        "PUT",
    ]
    recorded = json.dumps([dict(s.attributes or {}) for s in spans]) + " ".join(
        s.name for s in spans
    )
    upload_id = uri.split("upload_id=")[1].split("&")[0]
    assert token not in recorded
    assert upload_id not in recorded
