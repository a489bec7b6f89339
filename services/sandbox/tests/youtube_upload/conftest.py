"""A real sandbox process for the YouTube upload tests, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    process = ServiceProcess("cachalot_sandbox", env={}, log_path=log).start(timeout=120)
    yield process
    process.stop()


@pytest.fixture
def client(sandbox: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as http:
        http.post("/sandbox/reset").raise_for_status()
        yield http


def mint_token(http: httpx.Client, channel: str = "UCchannel1", scope: str = UPLOAD_SCOPE) -> str:
    response = http.post(
        "/sandbox/tokens", json={"platform": "google", "subject": channel, "scopes": [scope]}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture
def token(client: httpx.Client) -> str:
    return mint_token(client)


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    path = tmp_path / "video.mp4"
    path.write_bytes(bytes(range(256)) * 3000)  # 768,000 bytes: two full chunks and a tail
    return path
