"""Alembic environment for publisher-instagram: the shared async one, URL from the caller."""

from cachalot_common.db import run_alembic_env
from cachalot_publisher_instagram.models import Base

run_alembic_env(Base.metadata)
