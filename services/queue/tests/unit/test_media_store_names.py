"""A stored file is named by :func:`cachalot_queue.media_store.stored_name` (its id and its
sniffed type's extension): the one rule uploads are renamed by, and that whoever looks a media
item's file up by id and content type (the data export's readers, the tests) asks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cachalot_queue.media_store import store_upload, stored_id, stored_name
from cachalot_testing.media import image_file, video_file


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize(
    ("sample", "content_type", "extension"),
    [
        (video_file, "video/mp4", ".mp4"),
        (image_file, "image/jpeg", ".jpg"),
        (lambda: image_file(suffix=".png"), "image/png", ".png"),
    ],
)
async def test_an_upload_is_stored_under_the_name_stored_name_gives_for_its_type(
    tmp_path: Path, sample: Callable[[], Path], content_type: str, extension: str
) -> None:
    media_id = uuid.uuid4()
    data = sample().read_bytes()
    stored = await store_upload(
        _once(data),
        media_dir=tmp_path,
        media_id=media_id,
        max_bytes=10**8,
        max_image_bytes=10**8,
    )
    assert stored.content_type == content_type
    assert stored.path == stored_name(media_id, stored.content_type) == f"{media_id}{extension}"
    assert stored_name(str(media_id), stored.content_type) == stored.path  # ids from JSON too
    assert (tmp_path / stored.path).is_file()
    assert stored_id(stored.path) == media_id
