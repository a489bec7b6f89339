"""Fixtures of the runtime's tests (the fakes themselves are in :mod:`fakes`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakes import StoredVideo, store_video


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def video(media_dir: Path) -> StoredVideo:
    return store_video(media_dir)
