"""Upload bench: a publisher's memory and throughput on a large file.

Measures, for one platform's publisher running as a real process against the
sandbox (real Tansu, real HTTP):

* its idle RSS, then its peak RSS while it uploads a large file (sampled
  from /proc every 20 ms); target: growth under 64 MiB;
* its upload throughput (command sent → last byte accepted) against
  ``curl`` sending the same bytes to the same sandbox endpoint, the same way
  (chunks, a resumable session, a multipart form); target: at least 0.8 of
  curl's.

Rounds alternate (publisher, then curl, ``--rounds`` times, 3 by default) and
the throughputs are medians, so a slow moment of a shared machine does not
decide the ratio; the RSS growth is the largest of the rounds.

    uv run python bench/upload_memory.py --platform tiktok [--size-mib 1024] [--rounds 3]

Platforms plug in through :data:`PLATFORMS` (a class with the publisher's
module, its environment, the command to send and the curl run):

* ``tiktok`` (chunked PUTs), ``youtube`` (a resumable session), ``vk``
  (``video.save`` → one multipart POST of ``video_file`` → ``wall.post``),
  ``telegram`` (``sendVideo``, one streamed multipart POST; 1 GiB needs a
  local Bot API server, so the sandbox and the publisher run with
  ``CACHALOT_TELEGRAM_LOCAL_BOT_API=true``; the cloud Bot API takes 50 MB).
* Instagram is not here: its publisher never reads the file (Instagram fetches
  it from the signed link the queue serves), so there is no upload of its own
  to measure; the file is served by the queue's ``/media/v1`` route
  (Starlette's ``FileResponse``, read in 64 KiB blocks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cachalot_common.events import (
    MediaRef,
    PublishPost,
    PublishResult,
    TelegramOptions,
    TikTokOptions,
    VKOptions,
    YouTubeOptions,
)
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_testing.broker import TansuBroker
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.publisher import LeaseStandIn

sys.path.insert(0, str(Path(__file__).parent))

MIB = 1024 * 1024
SERVICE_SECRET = "bench-service-secret-0123456789abcdef"
RSS_TARGET_MIB = 64
THROUGHPUT_TARGET = 0.8


@dataclass
class Video:
    path: Path
    relative: str
    size: int
    sha256: str


@dataclass
class Context:
    workdir: Path
    sandbox: str
    kafka_bootstrap: str
    lease_url: str
    media_dir: Path
    sent_at: float = 0.0  # wall clock: the last command was put on the topic


class PlatformBench(Protocol):
    name: str
    module: str  # the publisher, run as ``python -m module``
    scopes: list[str]

    def prepare_sandbox(self, ctx: Context) -> None: ...
    def publisher_env(self, ctx: Context) -> dict[str, str]: ...
    def command(self, video: Video) -> PublishPost: ...
    def published_count(self, ctx: Context, video: Video) -> int: ...
    def curl_upload(self, ctx: Context, video: Video) -> float: ...


class TikTokBench:
    name = "tiktok"
    module = "cachalot_publisher_tiktok"
    scopes = ["video.publish"]
    chunk_size = 32_000_000  # the publisher's default

    def prepare_sandbox(self, ctx: Context) -> None:
        httpx.post(f"{ctx.sandbox}/sandbox/tiktok/config", json={"rate_limits_enabled": False})

    def publisher_env(self, ctx: Context) -> dict[str, str]:
        return {
            "CACHALOT_TIKTOK_API_BASE": f"{ctx.sandbox}/tiktok",
            "CACHALOT_TIKTOK_CHUNK_SIZE": str(self.chunk_size),
            "CACHALOT_TIKTOK_STATUS_POLL_S": "0.2",
            "CACHALOT_SERVICE_NAME": "publisher-tiktok",
        }

    def command(self, video: Video) -> PublishPost:
        return _command("tiktok", video, TikTokOptions(caption="bench", privacy_level="SELF_ONLY"))

    def published_count(self, ctx: Context, video: Video) -> int:
        counts = httpx.get(f"{ctx.sandbox}/sandbox/tiktok/posts").json()["counts_by_sha256"]
        return int(counts.get(video.sha256, 0))

    def curl_upload(self, ctx: Context, video: Video) -> float:
        """The same chunk plan, PUT by one curl process (one connection), timed."""
        from cachalot_publisher_tiktok.chunking import plan_chunks

        plan = plan_chunks(video.size, self.chunk_size)
        token = httpx.post(
            f"{ctx.sandbox}/sandbox/tokens",
            json={"platform": "tiktok", "subject": "curl", "scopes": self.scopes},
        ).json()["access_token"]
        init = httpx.post(
            f"{ctx.sandbox}/tiktok/v2/post/publish/video/init/",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "post_info": {"title": "curl", "privacy_level": "SELF_ONLY"},
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": plan.video_size,
                    "chunk_size": plan.chunk_size,
                    "total_chunk_count": plan.total_chunk_count,
                },
            },
        ).json()
        url = httpx.URL(init["data"]["upload_url"])
        # curl -T appends the file name to a URL whose path ends in "/": name the target
        origin = f"{url.scheme}://{url.netloc.decode()}"
        target = url.raw_path.decode()
        chunks_dir = ctx.workdir / "curl-chunks"
        chunks_dir.mkdir(exist_ok=True)
        args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n"]
        with video.path.open("rb") as source:
            for index in range(plan.total_chunk_count):
                first, length = plan.span(index)
                chunk = chunks_dir / f"{index:04d}"
                chunk.write_bytes(source.read(length))
                if index:
                    args += ["--next", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n"]
                args += [
                    "-T",
                    str(chunk),
                    "-H",
                    "Content-Type: video/mp4",
                    "-H",
                    f"Content-Range: bytes {first}-{first + length - 1}/{plan.video_size}",
                    "-H",
                    "Expect:",
                    "--request-target",
                    target,
                    origin,
                ]
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        codes = done.stdout.split()
        if codes[-1] != "201" or any(c not in ("201", "206") for c in codes):
            raise RuntimeError(f"curl upload failed: {codes[-5:]}")
        return self._sandbox_seconds(ctx, curl=True)

    def upload_seconds(self, ctx: Context, video: Video) -> float:
        """The publisher's upload as the sandbox saw it: first PUT to last byte."""
        return self._sandbox_seconds(ctx, curl=False)

    @staticmethod
    def _sandbox_seconds(ctx: Context, *, curl: bool) -> float:
        publishes = httpx.get(f"{ctx.sandbox}/sandbox/tiktok/posts").json()["publishes"]
        task = [p for p in publishes if (p["open_id"] == "curl") == curl][-1]  # this round's
        return float(task["upload_completed_at"] - task["upload_started_at"])


class YouTubeBench:
    """publisher-youtube: resumable upload in 32 MiB chunks; curl PUTs the whole file at once."""

    name = "youtube"
    module = "cachalot_publisher_youtube"
    token_platform = "google"  # the sandbox's Google OAuth issues YouTube tokens
    scopes = ["https://www.googleapis.com/auth/youtube.upload"]
    chunk_size = 32 * MIB

    def prepare_sandbox(self, ctx: Context) -> None:
        httpx.post(
            f"{ctx.sandbox}/sandbox/youtube/quota",
            json={"daily_units": 10**9, "channel_daily_uploads": 10**6},
        ).raise_for_status()

    def publisher_env(self, ctx: Context) -> dict[str, str]:
        return {
            "CACHALOT_YOUTUBE_API_BASE": f"{ctx.sandbox}/youtube",
            "CACHALOT_YOUTUBE_CHUNK_BYTES": str(self.chunk_size),
            "CACHALOT_SERVICE_NAME": "publisher-youtube",
        }

    def command(self, video: Video) -> PublishPost:
        return _command("youtube", video, YouTubeOptions(title="bench"))

    def published_count(self, ctx: Context, video: Video) -> int:
        videos = httpx.get(f"{ctx.sandbox}/sandbox/youtube/videos").json()["videos"]
        return sum(1 for v in videos if v["sha256"] == video.sha256)

    def curl_upload(self, ctx: Context, video: Video) -> float:
        """``curl -T`` of the whole file into a fresh resumable session, timed."""
        token = httpx.post(
            f"{ctx.sandbox}/sandbox/tokens",
            json={"platform": self.token_platform, "subject": "UCcurl", "scopes": self.scopes},
        ).json()["access_token"]
        session = httpx.post(
            f"{ctx.sandbox}/youtube/upload/youtube/v3/videos",
            params={"uploadType": "resumable", "part": "snippet,status"},
            json={"snippet": {"title": "curl"}, "status": {"privacyStatus": "private"}},
            headers={
                "Authorization": f"Bearer {token}",
                "X-Upload-Content-Length": str(video.size),
                "X-Upload-Content-Type": "video/mp4",
            },
        )
        session.raise_for_status()
        args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(video.path)]
        args += ["-H", f"Authorization: Bearer {token}", "-H", "Content-Type: video/mp4"]
        args += ["-H", "Expect:", session.headers["location"]]
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        if done.stdout.strip() not in ("200", "201"):
            raise RuntimeError(f"curl upload failed: HTTP {done.stdout.strip()}")
        return self._sandbox_seconds(ctx, title="curl")

    def upload_seconds(self, ctx: Context, video: Video) -> float:
        """The publisher's upload as the sandbox saw it: first byte to last byte."""
        return self._sandbox_seconds(ctx, title="bench")

    @staticmethod
    def _sandbox_seconds(ctx: Context, *, title: str) -> float:
        sessions = httpx.get(f"{ctx.sandbox}/sandbox/youtube/videos").json()["sessions"]
        session = [s for s in sessions if s["title"] == title][-1]  # this round's
        return float(session["completed_at"] - session["first_byte_at"])


class VKBench:
    """publisher-vk: ``video.save``, then the whole file as one multipart ``video_file`` part;
    curl sends the same form (``-F video_file=@…``) to an upload URL of its own."""

    name = "vk"
    module = "cachalot_publisher_vk"
    scopes = ["wall", "video", "photos", "groups"]
    subject = "100000042"  # VK user ids are numbers
    curl_subject = "100000043"

    def prepare_sandbox(self, ctx: Context) -> None:
        httpx.post(f"{ctx.sandbox}/sandbox/vk/reset").raise_for_status()

    def publisher_env(self, ctx: Context) -> dict[str, str]:
        return {
            "CACHALOT_VK_API_BASE": f"{ctx.sandbox}/vk",
            "CACHALOT_SERVICE_NAME": "publisher-vk",
        }

    def command(self, video: Video) -> PublishPost:
        return _command("vk", video, VKOptions(message="bench"))

    def published_count(self, ctx: Context, video: Video) -> int:
        posts = httpx.get(f"{ctx.sandbox}/sandbox/vk/posts").json()["posts"]
        return sum(1 for p in posts for f in p["files"] if f["sha256"] == video.sha256)

    def curl_upload(self, ctx: Context, video: Video) -> float:
        """The same form POSTed by curl to an upload URL of its own, timed by the sandbox."""
        token = httpx.post(
            f"{ctx.sandbox}/sandbox/tokens",
            json={"platform": "vk", "subject": self.curl_subject, "scopes": self.scopes},
        ).json()["access_token"]
        saved = httpx.post(
            f"{ctx.sandbox}/vk/method/video.save",
            data={"access_token": token, "v": "5.199", "name": "curl"},
        ).json()["response"]
        args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect:"]
        args += ["-F", f"video_file=@{video.path};type=video/mp4", saved["upload_url"]]
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        if done.stdout.strip() != "200":
            raise RuntimeError(f"curl upload failed: HTTP {done.stdout.strip()}")
        return self._sandbox_seconds(ctx, self.curl_subject)

    def upload_seconds(self, ctx: Context, video: Video) -> float:
        """The publisher's upload as the sandbox saw it: the POST's arrival to its last byte."""
        return self._sandbox_seconds(ctx, self.subject)

    @staticmethod
    def _sandbox_seconds(ctx: Context, user_id: str) -> float:
        uploads = httpx.get(f"{ctx.sandbox}/sandbox/vk/posts").json()["uploads"]
        upload = [u for u in uploads if u["user_id"] == user_id][-1]  # this round's
        return float(upload["completed_at"] - upload["started_at"])


class TelegramBench:
    """publisher-telegram: ``sendVideo`` with the file streamed as one multipart part; curl
    sends the same form. A local Bot API server takes 2000 MB, the cloud 50 MB."""

    name = "telegram"
    module = "cachalot_publisher_telegram"
    scopes: list[str] = []
    bot_token = "123456789:AAsandboxsandboxsandboxsandboxsandb"  # the sandbox's default bot
    channel = -1009000000001
    destination = str(channel)
    subject = "700000001"  # the person who linked the channel: its creator (checked per post)
    sandbox_env = {"CACHALOT_TELEGRAM_LOCAL_BOT_API": "true"}

    def prepare_sandbox(self, ctx: Context) -> None:
        httpx.post(
            f"{ctx.sandbox}/sandbox/telegram/channels",
            json={
                "id": self.channel,
                "title": "Bench",
                "username": "bench_channel",
                "admins": [{"user_id": int(self.subject), "status": "creator"}],
            },
        ).raise_for_status()

    def publisher_env(self, ctx: Context) -> dict[str, str]:
        return {
            "CACHALOT_TELEGRAM_API_BASE": f"{ctx.sandbox}/telegram",
            "CACHALOT_TELEGRAM_BOT_TOKEN": self.bot_token,
            "CACHALOT_TELEGRAM_LOCAL_BOT_API": "true",
            "CACHALOT_TELEGRAPH_API_BASE": f"{ctx.sandbox}/telegraph",
            "CACHALOT_SERVICE_NAME": "publisher-telegram",
        }

    def command(self, video: Video) -> PublishPost:
        return _command("telegram", video, TelegramOptions(caption="bench"))

    def published_count(self, ctx: Context, video: Video) -> int:
        posted = httpx.get(f"{ctx.sandbox}/sandbox/telegram/messages").json()["messages"]
        ours = [m for m in posted if m["text"] == "bench"]  # curl's posts have no caption
        return sum(1 for m in ours for f in m["files"] if f["sha256"] == video.sha256)

    def curl_upload(self, ctx: Context, video: Video) -> float:
        args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect:"]
        args += ["-F", f"chat_id={self.channel}", "-F", "supports_streaming=true"]
        args += ["-F", f"video=@{video.path};type=video/mp4"]
        args += [f"{ctx.sandbox}/telegram/bot{self.bot_token}/sendVideo"]
        started = time.time()
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        if done.stdout.strip() != "200":
            raise RuntimeError(f"curl upload failed: HTTP {done.stdout.strip()}")
        return self._received_at(ctx, caption="") - started

    def upload_seconds(self, ctx: Context, video: Video) -> float:
        """Command sent → the sandbox holding the whole file and the message (its
        ``received_at``): Kafka and the lease count against the publisher; curl is timed
        from its start to the same point, so both include the sandbox's copy of the file."""
        return self._received_at(ctx, caption="bench") - ctx.sent_at

    @staticmethod
    def _received_at(ctx: Context, *, caption: str) -> float:
        posted = httpx.get(f"{ctx.sandbox}/sandbox/telegram/messages").json()["messages"]
        return float([m for m in posted if m["text"] == caption][-1]["received_at"])


PLATFORMS: dict[str, type[PlatformBench]] = {
    "tiktok": TikTokBench,
    "youtube": YouTubeBench,
    "vk": VKBench,
    "telegram": TelegramBench,
}


def _command(platform: Any, video: Video, options: Any) -> PublishPost:
    return PublishPost(
        post_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        platform=platform,
        attempt=1,
        media=MediaRef(
            media_id=uuid.uuid4(),
            path=video.relative,
            size=video.size,
            sha256=video.sha256,
            content_type="video/mp4",
            duration_sec=30.0,
        ),
        options=options,
    )


def make_video(media_dir: Path, size: int) -> Video:
    """``size`` bytes of varied content (each MiB differs), hashed as written."""
    seed = os.urandom(MIB)
    digest = hashlib.sha256()
    path = media_dir / "bench.mp4"
    with path.open("wb") as out:
        written = 0
        block = 0
        while written < size:
            piece = (block.to_bytes(8, "big") + seed[8:])[: size - written]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            block += 1
    return Video(path, path.name, size, digest.hexdigest())


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.every_s = every_s
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(self.every_s)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


async def publish_and_watch(
    ctx: Context, command: PublishPost, size: int
) -> tuple[float, PublishResult]:
    """Send the command; (seconds until the last byte was accepted, final result)."""
    consumer = AIOKafkaConsumer(
        POSTS_RESULT,
        bootstrap_servers=ctx.kafka_bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=ctx.kafka_bootstrap, acks="all", enable_idempotence=False
    )
    await consumer.start()
    await producer.start()
    try:
        for _ in range(600):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        ctx.sent_at = time.time()
        await producer.send_and_wait(
            publish_topic(command.platform),
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
        )
        uploaded_at: float | None = None
        async for message in consumer:
            result = PublishResult.model_validate_json(message.value)
            if result.target_id != command.target_id:
                continue
            if result.type == "progress" and result.bytes_sent == size:
                uploaded_at = time.perf_counter()
            if result.type != "progress":
                return (uploaded_at or time.perf_counter()) - started, result
        raise RuntimeError("result stream ended")
    finally:
        await producer.stop()
        await consumer.stop()


def run(platform: PlatformBench, size: int, rounds: int = 3) -> dict[str, Any]:
    """``rounds`` alternating rounds (the publisher's upload, then curl's); medians."""
    with tempfile.TemporaryDirectory(prefix="cachalot-bench-") as raw:
        workdir = Path(raw)
        media_dir = workdir / "media"
        media_dir.mkdir()
        broker = TansuBroker(log_path=workdir / "tansu.log").start()
        sandbox = ServiceProcess(
            "cachalot_sandbox",
            env={"CACHALOT_LOG_LEVEL": "WARNING", **getattr(platform, "sandbox_env", {})},
            log_path=workdir / "sbx.log",
        ).start(timeout=180)
        subject: str | None = getattr(platform, "subject", None)
        lease = LeaseStandIn(
            sandbox.base_url,
            service=f"publisher-{platform.name}",
            secret=SERVICE_SECRET,
            platform=platform.name,
            token_platform=getattr(platform, "token_platform", None),
            scopes=platform.scopes,
            subject=(lambda _account: subject) if subject else None,
            destination=getattr(platform, "destination", None),
        ).start()
        ctx = Context(workdir, sandbox.base_url, broker.bootstrap, lease.url, media_dir)
        publisher: ServiceProcess | None = None
        idle, peaks, rates, ends, curl_rates = 0, [], [], [], []
        try:
            platform.prepare_sandbox(ctx)
            print(f"writing a {size / MIB:.0f} MiB file…", file=sys.stderr)
            video = make_video(media_dir, size)
            os.sync()  # write-back of the new file must not slow whichever upload runs first
            env = {
                "CACHALOT_KAFKA_BOOTSTRAP": broker.bootstrap,
                "CACHALOT_KAFKA_IDEMPOTENCE": "false",
                "CACHALOT_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/publisher.db",
                "CACHALOT_MEDIA_DIR": str(media_dir),
                "CACHALOT_AUTH_URL": lease.url,
                "CACHALOT_SERVICE_SECRET": SERVICE_SECRET,
                "CACHALOT_LOG_LEVEL": "WARNING",
                **platform.publisher_env(ctx),
            }
            publisher = ServiceProcess(
                platform.module, env=env, log_path=workdir / "publisher.log"
            ).start(timeout=180)
            publisher.wait_healthy(path="/readyz", timeout=180)
            time.sleep(2.0)
            assert publisher.pid is not None
            idle = rss_bytes(publisher.pid)
            for round_no in range(1, rounds + 1):
                sampler = RssSampler(publisher.pid)
                sampler.start()
                seconds, result = asyncio.run(publish_and_watch(ctx, platform.command(video), size))
                peaks.append(sampler.stop())
                if result.type != "published":
                    raise RuntimeError(f"not published: {result.code}: {result.reason}")
                if platform.published_count(ctx, video) != round_no:
                    raise RuntimeError("the sandbox does not hold one identical copy per round")
                timed = getattr(platform, "upload_seconds", None)
                # where the sandbox can time the upload itself (first byte → last), use that
                upload_seconds = timed(ctx, video) if timed else seconds
                curl_seconds = platform.curl_upload(ctx, video)
                ends.append(size / MIB / seconds)
                rates.append(size / MIB / upload_seconds)
                curl_rates.append(size / MIB / curl_seconds)
                print(
                    f"round {round_no}: publisher {rates[-1]:.1f} MiB/s, curl "
                    f"{curl_rates[-1]:.1f} MiB/s, peak RSS {peaks[-1] / MIB:.1f} MiB",
                    file=sys.stderr,
                )
        finally:
            # every stop runs even when one fails (a failed stop left the rest running)
            with contextlib.ExitStack() as stops:
                stops.callback(broker.stop)
                stops.callback(sandbox.stop)
                stops.callback(lease.stop)
                if publisher is not None:
                    stops.callback(publisher.stop)
    peak = max(peaks)
    growth = (peak - idle) / MIB
    rate, curl_rate = statistics.median(rates), statistics.median(curl_rates)
    return {
        "platform": platform.name,
        "size_mib": round(size / MIB, 1),
        "rounds": rounds,
        "idle_rss_mib": round(idle / MIB, 1),
        "peak_rss_mib": round(peak / MIB, 1),
        "rss_growth_mib": round(growth, 1),
        "publisher_mib_s": round(rate, 1),
        "publisher_end_to_end_mib_s": round(statistics.median(ends), 1),
        "curl_mib_s": round(curl_rate, 1),
        "ratios": [round(r / c, 3) for r, c in zip(rates, curl_rates, strict=True)],
        "throughput_ratio": round(rate / curl_rate, 3),
        "rss_ok": growth < RSS_TARGET_MIB,
        "throughput_ok": rate / curl_rate >= THROUGHPUT_TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="tiktok")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians)")
    args = parser.parse_args()
    figures = run(PLATFORMS[args.platform](), args.size_mib * MIB, args.rounds)
    print(
        f"{figures['platform']}: {figures['size_mib']:.0f} MiB, {figures['rounds']} rounds; "
        "RSS idle "
        f"{figures['idle_rss_mib']} MiB, peak {figures['peak_rss_mib']} MiB, growth "
        f"{figures['rss_growth_mib']} MiB (target < {RSS_TARGET_MIB}); throughput "
        f"{figures['publisher_mib_s']} MiB/s vs curl {figures['curl_mib_s']} MiB/s (medians) = "
        f"{figures['throughput_ratio']} (target ≥ {THROUGHPUT_TARGET})"
    )
    print(json.dumps(figures))
    raise SystemExit(0 if figures["rss_ok"] and figures["throughput_ok"] else 1)


if __name__ == "__main__":
    main()
