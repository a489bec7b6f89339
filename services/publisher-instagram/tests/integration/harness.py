"""Instagram's part of the publisher test harness (the rest: ``cachalot_testing.publisher``).

Instagram tokens are minted by the sandbox. The link server stands in for
the queue's signed media links (tested in the queue's suite and end to end):
it serves the media directory at ``/media/v1/<name>/<expires>/<sig>`` with
Starlette's ``FileResponse`` (ranges included), so the sandbox fetches each
file over real HTTP as Instagram would.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from cachalot_common.events import InstagramOptions, PublishPost
from cachalot_testing.publisher import Commands as BaseCommands
from cachalot_testing.publisher import LeaseStandIn, Results, ThreadedServer, sha256_of

__all__ = [
    "SCOPES",
    "SERVICE_SECRET",
    "Commands",
    "LeaseServer",
    "LinkServer",
    "Results",
    "sha256_of",
    "user_of",
]

SCOPES = ["instagram_business_basic", "instagram_business_content_publish"]
SERVICE = "publisher-instagram"
SERVICE_SECRET = "test-publisher-instagram-secret-0123456789"
CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4"}


def user_of(account_id: str) -> str:
    return "1784" + str(uuid.UUID(account_id).int)[:13]


class LeaseServer(LeaseStandIn):
    """Auth's lease endpoint handing out sandbox Instagram tokens."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__(
            sandbox_url,
            service=SERVICE,
            secret=SERVICE_SECRET,
            platform="instagram",
            scopes=SCOPES,
            subject=user_of,
        )


class LinkServer(ThreadedServer):
    """Serves ``media_dir`` at ``/media/v1/<name>/<expires>/<signature>`` (any signature)."""

    def __init__(self, media_dir: Path) -> None:
        super().__init__()
        self.media_dir = media_dir
        self.requests: list[tuple[str, str | None]] = []  # (name, Range header)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/media/v1/{name}/{expires}/{signature}", response_model=None)
        async def media(name: str, expires: str, signature: str, request: Request) -> Response:
            self.requests.append((name, request.headers.get("range")))
            path = self.media_dir / name
            if not path.is_file():
                return JSONResponse({"detail": "not found"}, status_code=404)
            return FileResponse(path, media_type=CONTENT_TYPES[path.suffix])

        return app

    def link(self, path: Path) -> str:
        return f"{self.url}/media/v1/{path.name}/{int(time.time()) + 3600}/{'s' * 43}"


class Commands(BaseCommands):
    """``PublishPost`` commands for ``posts.publish.instagram.v1``, media linked."""

    def __init__(self, bootstrap: str, idempotence: bool, media_dir: Path, links: LinkServer):
        super().__init__(bootstrap, idempotence, media_dir)
        self.links = links

    def command(self, *files: Path, link: bool = True, caption: str = "hello") -> PublishPost:
        refs = [
            self.ref(f, CONTENT_TYPES[f.suffix], url=self.links.link(f) if link else None)
            for f in files
        ]
        video = files[0].suffix == ".mp4"
        return PublishPost(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            platform="instagram",
            attempt=1,
            kind="video" if video else "photo",
            media=refs[0] if video else None,
            images=() if video else tuple(refs),
            options=InstagramOptions(caption=caption),
            grant=f"grant-{uuid.uuid4().hex}",  # the lease stand-in does not check it
        )
