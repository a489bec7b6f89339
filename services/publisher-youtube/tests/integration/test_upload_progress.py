"""A chunk's progress is reported while it streams, not only at YouTube's answer."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from cachalot_common.events import YouTubeOptions
from cachalot_publisher_youtube.youtube import YouTubeUploads
from cachalot_testing.processes import ServiceProcess

from .harness import UPLOAD_SCOPE

pytestmark = pytest.mark.integration
READ = 64 * 1024


async def test_a_one_chunk_video_reports_progress_as_its_bytes_leave(
    sandbox: ServiceProcess, tmp_path: Path
) -> None:
    # issue 12 defect 6: a video up to the chunk size (32 MiB) is one PUT; its progress
    # came only with the answer
    token = httpx.post(
        f"{sandbox.base_url}/sandbox/tokens",
        json={"platform": "google", "subject": "UCprogress", "scopes": [UPLOAD_SCOPE]},
    ).json()["access_token"]
    video = tmp_path / "v.mp4"
    video.write_bytes(os.urandom(16 * READ + 99))
    total = video.stat().st_size
    reports: list[tuple[int, int]] = []

    async def progress(sent: int, of: int) -> None:
        reports.append((sent, of))

    async with httpx.AsyncClient() as client:
        uploads = YouTubeUploads(client, api_base=f"{sandbox.base_url}/youtube", read_bytes=READ)
        uri = await uploads.start_session(
            token, YouTubeOptions(title="Progress"), total=total, content_type="video/mp4"
        )
        done = await uploads.put_chunk(
            token,
            session_uri=uri,
            path=video,
            first=0,
            size=total,
            total=total,
            content_type="video/mp4",
            progress=progress,
        )
    assert done.video is not None
    sent = [s for s, _ in reports]
    assert sent == [READ * (i + 1) for i in range(16)] + [total], sent
    assert reports[-1] == (total, total)
