"""Alembic environment for publisher-vk: the shared async one, URL from the caller's config."""

from cachalot_common.db import run_alembic_env
from cachalot_publisher_vk.models import Base

run_alembic_env(Base.metadata)
