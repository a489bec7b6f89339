"""Media is what it claims to be: every upload is probed with a media library (issue 11 item 2).

An audio-only MP4 used to be accepted as ``video/mp4`` and "published": the
type came from the container header alone. Now the stored file is opened
with FFmpeg's demuxer and decoder (PyAV) before it becomes visible; what is
not a playable video or a readable JPEG/PNG is refused (415 or 422 naming
``file``) and nothing of it is kept, and each target platform's limits are
checked against the facts read when the post is queued (issue 10 item 1 for
the images). Every file here is made by ffmpeg once per session.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from queue_support import QueueServer, own_queue
from sqlalchemy import func, select

from cachalot_queue.tables import Media, MediaReservation
from cachalot_testing.media import ffmpeg_made, video_file

pytestmark = pytest.mark.integration

IMAGE_CAP = 64 * 1024  # CACHALOT_MAX_IMAGE_BYTES of this module's queue
PICTURE = ["-f", "lavfi", "-i", "testsrc=size=320x180:rate=1", "-frames:v", "1"]


@pytest.fixture(scope="session")
def files() -> dict[str, bytes]:
    """name → bytes of each test file, made with ffmpeg (small: all under 70 KB)."""
    audio_only = ffmpeg_made(
        ".mp4", "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac"
    )
    hd = video_file(width=1280, height=720, fps=30, seconds=1)
    noise = ["-f", "lavfi", "-i", "nullsrc=size=400x400,geq=random(1)*255:128:128"]
    blanked = bytearray(video_file(audio=False).read_bytes())  # moov first, then mdat
    start = blanked.index(b"mdat") + 4
    blanked[start:] = bytes(len(blanked) - start)  # every frame zeroed, the header intact
    index_broken = bytearray(video_file().read_bytes())
    moov = index_broken.index(b"moov") + 4
    rng = random.Random(11)
    index_broken[moov : moov + 2000] = bytes(rng.randrange(256) for _ in range(2000))
    one_frame = ffmpeg_made(
        ".mp4",
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=20"),
        *("-f", "lavfi", "-i", "color=size=320x240:rate=25:duration=0.04"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"),
    )
    few_frames = ffmpeg_made(
        ".mp4",
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=20"),
        *("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"),
    )
    tall = video_file(width=720, height=1280, seconds=10).read_bytes()  # +faststart
    return {
        "tall-10s-first-third.mp4": tall[: len(tall) // 3],
        "tall-10s-first-five-sixths.mp4": tall[: len(tall) * 5 // 6],
        "index-broken.mp4": bytes(index_broken),
        "one-frame-20s-sound.mp4": one_frame.read_bytes(),
        "2s-picture-20s-sound.mp4": few_frames.read_bytes(),
        "blank-frames.mp4": bytes(blanked),
        "audio-only.mp4": audio_only.read_bytes(),
        "720p.mp4": hd.read_bytes(),
        "10fps.mp4": video_file(fps=10).read_bytes(),
        "truncated.mp4": hd.read_bytes()[: hd.stat().st_size // 2],
        "text.mp4": b"This is a shopping list, not a video.\nmilk\neggs\n" * 40,
        "picture.png": ffmpeg_made(".png", *PICTURE).read_bytes(),
        "picture.jpg": ffmpeg_made(".jpg", *PICTURE).read_bytes(),
        "picture.gif": ffmpeg_made(".gif", *PICTURE).read_bytes(),
        "picture.webp": ffmpeg_made(".webp", *PICTURE).read_bytes(),
        "noise.png": ffmpeg_made(".png", *noise, "-frames:v", "1").read_bytes(),
    }


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def probing(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    """A queue on SQLite and on PostgreSQL whose image cap is small enough to reach."""
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "probe",
        max_image_bytes=IMAGE_CAP,
    ) as server:  # fmt: skip
        yield server


async def _refused_leaving_nothing(
    queue: QueueServer, data: bytes, status: int, content_type: str = "video/mp4"
) -> dict[str, Any]:
    """Upload ``data``; assert ``status`` and that no file, row or hold is left; the problem."""
    client = queue.client()
    media_dir = queue.runtime.settings.media_dir
    before = {p for p in media_dir.rglob("*") if p.is_file()}
    response = await client.http.post(
        "/api/v1/media", content=data, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {p for p in media_dir.rglob("*") if p.is_file()} == before
    async with queue.runtime.reader() as session:
        for table in (Media, MediaReservation):
            count = await session.scalar(select(func.count()).where(table.client_id == client.id))
            assert count == 0, table
    usage = await client.http.get("/api/v1/media/usage")
    assert usage.json()["used_bytes"] == 0
    return dict(response.json())


async def test_an_audio_only_mp4_is_refused_with_422_saying_it_has_no_video_stream(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    problem = await _refused_leaving_nothing(probing, files["audio-only.mp4"], 422)
    assert "no video stream" in problem["detail"]
    assert problem["errors"][0]["field"] == "file"
    assert "no video stream" in problem["errors"][0]["message"]


async def test_an_mp4_whose_index_is_garbage_is_refused_as_damaged_not_as_audio_only(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    problem = await _refused_leaving_nothing(probing, files["index-broken.mp4"], 422)
    assert problem["errors"][0]["field"] == "file"
    assert "damaged or unreadable" in problem["errors"][0]["message"]
    assert "no video stream" not in problem["detail"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("one-frame-20s-sound.mp4", "the video stream is a single frame in a file of 20.0 s"),
        ("2s-picture-20s-sound.mp4", "the video stream lasts 2.00 s of the file's 20.0 s"),
    ],
)
async def test_sound_with_a_picture_far_shorter_than_it_is_refused_naming_both_durations(
    probing: QueueServer, files: dict[str, bytes], name: str, why: str
) -> None:
    """Used to be taken with the container's 20 s: the duration is the video stream's."""
    problem = await _refused_leaving_nothing(probing, files[name], 422)
    assert problem["errors"][0]["field"] == "file"
    assert why in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("audio-only.mp4", "media_no_video_stream"),
        ("index-broken.mp4", "media_damaged"),
        ("one-frame-20s-sound.mp4", "media_still_picture"),
        ("2s-picture-20s-sound.mp4", "media_mostly_sound"),
        ("truncated.mp4", "media_damaged"),
        ("tall-10s-first-third.mp4", "media_cut_short"),
        ("blank-frames.mp4", "media_damaged"),
    ],
)
async def test_each_unusable_files_refusal_carries_the_code_a_page_words_it_by(
    probing: QueueServer, files: dict[str, bytes], name: str, code: str
) -> None:
    """The message is English with the file's facts; a page in another language words the
    refusal by its code (web/words.js), not by the English (fresh11: Russian pages showed it)."""
    problem = await _refused_leaving_nothing(probing, files[name], 422)
    assert [(e["field"], e["type"]) for e in problem["errors"]] == [("file", code)]


async def test_a_text_file_named_mp4_is_refused_with_415(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    problem = await _refused_leaving_nothing(probing, files["text.mp4"], 415)
    assert problem["errors"][0]["field"] == "file"


async def test_a_truncated_mp4_is_refused_with_422_as_unreadable(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    problem = await _refused_leaving_nothing(probing, files["truncated.mp4"], 422)
    assert problem["errors"][0]["field"] == "file"
    assert "damaged or unreadable" in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    ("name", "holds"),
    [("tall-10s-first-third.mp4", "1.5 s"), ("tall-10s-first-five-sixths.mp4", "8.")],
)
async def test_an_mp4_cut_short_after_its_index_is_refused_naming_what_it_holds_of_its_duration(
    probing: QueueServer, files: dict[str, bytes], name: str, holds: str
) -> None:
    """A fresh user's file (fix11b): ``head -c`` of a +faststart MP4 keeps its index and
    first frames, so its header says 10 s and the first frame decodes; it was taken as a
    10.0 s video. Its video packets end early: refused naming both lengths."""
    problem = await _refused_leaving_nothing(probing, files[name], 422)
    assert problem["errors"][0]["field"] == "file"
    message = problem["errors"][0]["message"]
    assert "cut short" in message
    assert f"holds {holds}" in message
    assert "of the 10.0 s it states" in message


async def test_an_mp4_whose_frames_are_zeros_is_refused_with_422_as_undecodable(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    problem = await _refused_leaving_nothing(probing, files["blank-frames.mp4"], 422)
    assert problem["errors"][0]["field"] == "file"
    assert "video" in problem["errors"][0]["message"]


async def test_a_png_claiming_to_be_a_png_but_holding_zeros_is_refused_with_422(
    probing: QueueServer,
) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(5000)
    problem = await _refused_leaving_nothing(probing, data, 422, "image/png")
    assert "image" in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    ("name", "content_type", "share"),
    [
        (name, content_type, share)
        for name, content_type in (("picture.jpg", "image/jpeg"), ("picture.png", "image/png"))
        for share in (0.34, 0.5, 0.98)
    ],
)
async def test_an_image_cut_short_is_refused_with_422_saying_so_not_taken_at_its_declared_size(
    probing: QueueServer, files: dict[str, bytes], name: str, content_type: str, share: float
) -> None:
    # FFmpeg conceals a cut JPEG (grey rows below what arrived): its header still says 320×180
    cut = files[name][: int(len(files[name]) * share)]
    problem = await _refused_leaving_nothing(probing, cut, 422, content_type)
    assert problem["errors"][0]["field"] == "file"
    assert "cut short or damaged" in problem["errors"][0]["message"]


async def test_a_jpeg_with_bytes_after_its_end_marker_is_still_taken(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    response = await probing.client().http.post(
        "/api/v1/media",
        content=files["picture.jpg"] + bytes(range(256)) * 4,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (320, 180)


@pytest.mark.parametrize(
    ("name", "content_type"), [("picture.png", "image/png"), ("picture.jpg", "image/jpeg")]
)
async def test_a_png_or_jpeg_is_taken_by_its_content_with_its_dimensions(
    probing: QueueServer, files: dict[str, bytes], name: str, content_type: str
) -> None:
    client = probing.client()
    response = await client.http.post(
        "/api/v1/media", content=files[name], headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 201, response.text
    media = response.json()
    assert (media["content_type"], media["kind"]) == (content_type, "image")
    assert (media["width"], media["height"]) == (320, 180)
    assert media["frame_rate"] is None
    assert media["duration_sec"] is None
    stored = probing.runtime.settings.media_dir / f"{media['id']}{Path(name).suffix}"
    assert stored.read_bytes() == files[name]
    listed = (await client.http.get("/api/v1/media")).json()["items"]
    assert [(m["id"], m["width"], m["kind"]) for m in listed] == [(media["id"], 320, "image")]


@pytest.mark.parametrize("name", ["picture.gif", "picture.webp"])
async def test_a_gif_or_webp_is_refused_with_415_naming_the_types_taken(
    probing: QueueServer, files: dict[str, bytes], name: str
) -> None:
    problem = await _refused_leaving_nothing(probing, files[name], 415, "image/*")
    assert "JPEG and PNG images" in problem["detail"]
    assert "MP4" in problem["detail"]


async def test_an_image_over_the_image_cap_is_refused_with_413_and_nothing_is_kept(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    assert IMAGE_CAP < len(files["noise.png"]) < probing.runtime.settings.max_media_bytes
    problem = await _refused_leaving_nothing(probing, files["noise.png"], 413, "image/png")
    assert problem["max_bytes"] == IMAGE_CAP
    assert "image" in problem["detail"]


async def test_the_facts_of_a_720p_30_fps_video_are_read_and_shown(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    client = probing.client()
    media = await client.upload(files["720p.mp4"])
    assert {k: media[k] for k in ("kind", "width", "height", "frame_rate")} == {
        "kind": "video",
        "width": 1280,
        "height": 720,
        "frame_rate": 30.0,
    }
    assert (media["video_codec"], media["audio_codec"]) == ("h264", "aac")
    assert media["duration_sec"] == pytest.approx(1.0, abs=0.1)
    listed = (await client.http.get("/api/v1/media")).json()["items"][0]
    assert {k: listed[k] for k in media} == media


async def test_a_10_fps_video_queued_to_tiktok_is_refused_naming_the_targets_frame_rate(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    client = probing.client()
    youtube = await client.account("youtube")
    tiktok = await client.account("tiktok")
    media = await client.upload(files["10fps.mp4"])
    assert media["frame_rate"] == 10.0

    refused = await client.post(
        {
            "media_id": media["id"],
            "targets": [
                {"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}},
                {"account_id": str(youtube), "youtube": {"title": "slow"}},
            ],
        }
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {
            "field": "targets[0].media.frame_rate",
            "in": "body",
            "message": "TikTok takes 23–60 frames per second; this video has 10",
            "type": "frame_rate",
            "min": 23,
            "max": 60,
            "count": 10,
        }
    ]
    taken = await client.post(
        {
            "media_id": media["id"],
            "targets": [{"account_id": str(youtube), "youtube": {"title": "slow"}}],
        }
    )
    assert taken.status_code == 201, taken.text


async def test_a_video_smaller_than_360_px_queued_to_tiktok_is_refused_naming_both_sides(
    probing: QueueServer,
) -> None:
    client = probing.client()
    tiktok = await client.account("tiktok")
    media = await client.upload(video_file(width=320, height=240, seconds=1).read_bytes())
    refused = await client.post(
        {
            "media_id": media["id"],
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )
    assert refused.status_code == 422, refused.text
    fields = [e["field"] for e in refused.json()["errors"]]
    assert fields == ["targets[0].media.width", "targets[0].media.height"]


async def test_an_image_cannot_be_the_video_of_a_post(
    probing: QueueServer, files: dict[str, bytes]
) -> None:
    client = probing.client()
    youtube = await client.account("youtube")
    media = await client.upload(files["picture.png"], **{"Content-Type": "image/png"})
    refused = await client.post(
        {
            "media_id": media["id"],
            "targets": [{"account_id": str(youtube), "youtube": {"title": "a picture"}}],
        }
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "media_id"
    assert "image" in refused.json()["errors"][0]["message"]
