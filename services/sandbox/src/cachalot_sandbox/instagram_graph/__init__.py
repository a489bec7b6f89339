"""Sandbox: Instagram content publishing (Instagram API with Instagram Login), graph.instagram.com.

At the real paths under ``/instagram`` (the same prefix as ``instagram_auth``,
so ``CACHALOT_INSTAGRAM_API_BASE`` is one base URL), each optionally with a
``/vNN.N`` segment; ``{node}`` is ``me``, the IG user id or its app-scoped id:

- ``POST /{node}/media``: a container. ``media_type=REELS`` + ``video_url``;
  no media_type (or ``IMAGE``) + ``image_url`` (JPEG only, checked on the
  fetched bytes); ``is_carousel_item=true`` for a carousel's item;
  ``media_type=CAROUSEL`` + ``children`` (2–10 FINISHED items of the same
  user). ``media_type=VIDEO`` is refused (gone since November 2023), and so
  is ``upload_type=resumable`` (uncertain on graph.instagram.com, reference
  §3.3: this fake takes URLs only). Captions: at most 2,200 characters, 30
  hashtags, 20 mentions. At most 400 containers per user per 24 h.
- the container's processing: the fake **fetches the URL** with real HTTP
  GETs (by ``Range`` requests of ``range_chunk_bytes``, as a crawler resuming
  a download does; a server that ignores ranges is read whole), keeps the
  SHA-256 of what it got, then after ``processing_delay_s`` becomes
  ``FINISHED``; a failed fetch is ``ERROR`` (subcode 2207052), a non-JPEG
  image 2207005, a non-MP4/MOV video 2207026; injectable: ``error`` (any
  subcode/message), ``silent`` (a video without audio), ``expire``,
  ``fetch_fail``, ``unavailable`` (a 500 on creation). ``EXPIRED`` also
  after 24 h unpublished.
- ``GET /{container-id}?fields=status_code,status``: ``IN_PROGRESS``,
  ``FINISHED``, ``ERROR`` (``status`` carries the subcode), ``EXPIRED``,
  ``PUBLISHED``.
- ``POST /{node}/media_publish?creation_id=``: only a FINISHED container
  (else 9007/2207027; expired 2207020); the rolling quota (``quota_total``
  per ``quota_duration_s``, a carousel counts once) is enforced here, as the
  reference says (code 9, subcode 2207042). The reference's sources disagree
  on the total (25, 50 or 100): the fake answers 50 per 86,400 s, the
  ``media_publish`` reference's figure (the most recently updated source,
  January 2025, and what hosted posting APIs report in 2026); tests set their
  own. Publishers read the figure from ``content_publishing_limit``.
- ``GET /{node}/content_publishing_limit?fields=quota_usage,config``.
- ``GET /{node}/media?fields=id,caption,permalink,timestamp``: the user's
  posts, newest first (``limit``, default 25).
- ``GET /{media-id}?fields=permalink`` (also media_type, media_product_type,
  caption, timestamp).

Errors are Graph's ``{"error":{message,type,code,error_subcode,fbtrace_id}}``;
tokens are those ``instagram_auth`` (or ``/sandbox/tokens``, platform
``instagram``) issued; publishing needs ``instagram_business_content_publish``.
Controls under ``/sandbox/instagram/graph``: ``GET media`` (what was
published, each item's size and SHA-256, and every container),
``POST faults``, ``POST config``, ``POST quota/use``.
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.instagram_graph.api import create_api_router, create_control_router
from cachalot_sandbox.instagram_graph.state import state
from cachalot_sandbox.settings import SandboxSettings


def create_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter()
    router.include_router(create_api_router())
    router.include_router(create_control_router())
    return router


def reset() -> None:
    """Forget containers, published media, quota use and faults."""
    state.reset()


__all__ = ["create_router", "reset"]
