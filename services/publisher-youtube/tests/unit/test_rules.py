"""Pure rules of publisher-youtube: error classes, quota reset, chunk size, backoff, schema."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

from cachalot_common.db import run_migrations
from cachalot_common.events import YouTubeOptions
from cachalot_common.grants import generate_signing_key
from cachalot_publisher_youtube.main import ALEMBIC_DIR
from cachalot_publisher_youtube.publisher import RetryPolicy, seconds_until_quota_reset
from cachalot_publisher_youtube.settings import Settings
from cachalot_publisher_youtube.youtube import (
    QuotaExceeded,
    Rejected,
    SessionExpired,
    Transient,
    Unauthorized,
    UploadLimitExceeded,
    classify,
    metadata,
)


def google_error(status: int, reason: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": status, "message": "m", "errors": [{"reason": reason}]}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (401, "authError", Unauthorized),
        (403, "quotaExceeded", QuotaExceeded),
        (400, "uploadLimitExceeded", UploadLimitExceeded),
        (429, "rateLimitExceeded", Transient),
        (503, "backendError", Transient),
        (404, "notFound", SessionExpired),
        (400, "invalidTitle", Rejected),
        (403, "forbidden", Rejected),
    ],
)
def test_google_errors_map_to_what_the_publisher_does_next(
    status: int, reason: str, expected: type[Exception]
) -> None:
    assert type(classify(google_error(status, reason), session_call=True)) is expected


def test_a_429_carries_its_retry_after() -> None:
    error = classify(
        google_error(429, "rateLimitExceeded", {"Retry-After": "7"}), session_call=True
    )

    assert isinstance(error, Transient)
    assert error.retry_after_s == 7


def test_a_404_when_opening_a_session_is_not_an_expired_session() -> None:
    assert type(classify(google_error(404, "notFound"), session_call=False)) is Rejected


def test_quota_retry_waits_until_midnight_pacific() -> None:
    evening = datetime(2026, 3, 2, 23, 0, tzinfo=ZoneInfo("America/Los_Angeles"))

    assert seconds_until_quota_reset(evening) == 3600


def test_chunk_size_must_be_a_multiple_of_256_kib() -> None:
    assert Settings(youtube_chunk_bytes=512 * 1024).youtube_chunk_bytes == 512 * 1024
    with pytest.raises(ValidationError, match="256 KiB"):
        Settings(youtube_chunk_bytes=300_000)


def test_production_refuses_a_placeholder_service_secret() -> None:
    real_keys = generate_signing_key("k1").public_setting()
    with pytest.raises(ValidationError, match="CACHALOT_SERVICE_SECRET"):
        Settings(environment="production", service_secret="changeme", grant_public_keys=real_keys)


def test_backoff_honours_retry_after_and_otherwise_grows_with_jitter() -> None:
    policy = RetryPolicy(initial_s=1.0, max_s=8.0)

    assert policy.delay(3, 12.5) == 12.5
    assert 0.5 <= policy.delay(1, None) <= 1.0
    assert 2.0 <= policy.delay(3, None) <= 4.0
    assert 4.0 <= policy.delay(9, None) <= 8.0


def test_metadata_carries_snippet_and_status() -> None:
    options = YouTubeOptions(title="T", description="D", tags=["a"], privacy_status="unlisted")

    assert metadata(options) == {
        "snippet": {"title": "T", "description": "D", "categoryId": "22", "tags": ["a"]},
        "status": {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False},
    }


def test_migrations_create_the_uploads_table_on_sqlite(tmp_path: Path) -> None:
    database = tmp_path / "publisher-youtube.db"

    run_migrations(ALEMBIC_DIR, f"sqlite+aiosqlite:///{database}")

    with sqlite3.connect(database) as connection:
        columns = {row[1] for row in connection.execute("pragma table_info(youtube_uploads)")}
    assert {"target_id", "session_uri", "bytes_confirmed", "video_id"} <= columns
