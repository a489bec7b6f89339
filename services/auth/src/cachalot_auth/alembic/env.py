"""Alembic environment for auth: the shared async one, URL from the caller's config."""

from cachalot_auth.models import Base
from cachalot_common.db import run_alembic_env

run_alembic_env(Base.metadata)
