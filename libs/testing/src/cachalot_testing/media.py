"""Real media files for tests, made once with ffmpeg and cached.

The queue probes every upload with a media library (a video stream, a frame
that decodes, its size and frame rate) and checks them against each target
platform's limits, so a test that uploads "a video" needs a real one that
every platform takes: :func:`video_file` makes a 360×640 (9:16), 30 fps,
3 s H.264 MP4 with AAC sound by default (TikTok wants 23–60 fps and at least
360 px a side; Instagram Reels at least 3 s), about 20 KB.

Files are cached by their ffmpeg arguments in the system's temporary
directory (written to a temporary name, then renamed, so parallel test
processes never read half a file). ``ffmpeg`` must be on PATH.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

CACHE: Final = Path(tempfile.gettempdir()) / "cachalot-testing-media"


def ffmpeg_made(suffix: str, *args: str) -> Path:
    """The file ``ffmpeg -y <args> <out><suffix>`` writes, made on first use and cached.

    ``suffix`` picks the output format (``.mp4``, ``.png``). Raises
    ``RuntimeError`` when ffmpeg is missing or fails (its stderr attached).
    """
    key = hashlib.sha256("\0".join((suffix, *args)).encode()).hexdigest()[:16]
    path = CACHE / f"{key}{suffix}"
    if path.exists():
        return path
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed to make test media; install it")
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = CACHE / f"{key}.{os.getpid()}.part{suffix}"
    done = subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", *args, str(partial)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg failed making test media: {done.stderr.strip()}")
    os.replace(partial, path)
    return path


def video_file(
    *,
    width: int = 360,
    height: int = 640,
    fps: int = 30,
    seconds: float = 3,
    audio: bool = True,
    container: str = ".mp4",
) -> Path:
    """A real H.264 video (MP4 unless ``container`` says ``.mov``), cached; sizes in pixels.

    The defaults fit every platform's limits; change one to break one (a
    10 fps video for TikTok's frame-rate check).
    """
    picture = f"color=c=0x3366cc:size={width}x{height}:rate={fps}:duration={seconds}"
    args = ["-f", "lavfi", "-i", picture]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "32k", "-shortest"]
    return ffmpeg_made(container, *args, "-movflags", "+faststart")


def video_bytes() -> bytes:
    """The bytes of the default :func:`video_file`: a video every platform takes."""
    return video_file().read_bytes()


def image_file(
    *, width: int = 1080, height: int = 1080, suffix: str = ".jpg", colour: str = "0x33aa66"
) -> Path:
    """A real still image (JPEG for ``.jpg``, PNG for ``.png``), cached; sizes in pixels."""
    picture = f"color=c={colour}:size={width}x{height}:rate=1:duration=1"
    return ffmpeg_made(suffix, "-f", "lavfi", "-i", picture, "-frames:v", "1")
