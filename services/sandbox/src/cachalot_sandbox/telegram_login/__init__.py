"""Sandbox: telegram_login_login (not written yet)."""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.settings import SandboxSettings


def create_router(settings: SandboxSettings) -> APIRouter:
    return APIRouter()


def reset() -> None:
    return None
