"""Alembic environment for the queue: the shared async one, URL from the caller's config."""

from cachalot_common.db import run_alembic_env
from cachalot_queue.tables import Base

run_alembic_env(Base.metadata)
