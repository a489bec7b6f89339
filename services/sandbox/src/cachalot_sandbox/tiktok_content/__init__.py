"""Sandbox: TikTok Content Posting API (Direct Post, FILE_UPLOAD), faithful to the docs.

Real paths under ``/tiktok`` (standing in for ``open.tiktokapis.com``); the
upload URL it hands out points back at this sandbox. Controls for tests
under ``/sandbox/tiktok``. See ``api``, ``upload``, ``controls``.
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tiktok_content.api import create_api_router
from cachalot_sandbox.tiktok_content.controls import create_controls_router
from cachalot_sandbox.tiktok_content.state import store
from cachalot_sandbox.tiktok_content.upload import create_upload_router


def create_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter()
    router.include_router(create_api_router(settings))
    router.include_router(create_upload_router())
    router.include_router(create_controls_router())
    return router


def reset() -> None:
    store.reset()
