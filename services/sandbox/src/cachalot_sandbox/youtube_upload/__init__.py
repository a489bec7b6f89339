"""Sandbox: YouTube Data API v3 resumable upload (videos.insert) at its real paths.

Platform paths live under ``/youtube`` (standing in for www.googleapis.com);
controls for tests under ``/sandbox/youtube``. ``GET /youtube/youtube/v3/channels``
belongs to ``google_auth``, not here.
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.youtube_upload.control import create_control_router
from cachalot_sandbox.youtube_upload.routes import create_platform_router
from cachalot_sandbox.youtube_upload.state import state


def create_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter()
    router.include_router(create_platform_router(settings))
    router.include_router(create_control_router())
    return router


def reset() -> None:
    """Forget sessions, videos (and their files), faults and quota use."""
    state.reset()


__all__ = ["create_router", "reset"]
