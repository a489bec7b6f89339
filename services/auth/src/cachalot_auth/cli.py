"""Command line: serve (default), ``migrate``, ``rotate-keys``."""

from __future__ import annotations

import argparse
import asyncio

from cachalot_auth.custody import TokenVault
from cachalot_auth.main import ALEMBIC_DIR, main, register_secrets
from cachalot_auth.rotation import rotate_keys
from cachalot_auth.settings import AuthSettings
from cachalot_common.db import create_engine, run_migrations, session_factory
from cachalot_common.logging import setup_logging
from cachalot_common.settings import load_settings


async def _rotate(settings: AuthSettings, batch: int) -> int:
    engine = create_engine(settings.database_url)
    try:
        report = await rotate_keys(
            session_factory(engine), TokenVault(settings.key_ring()), batch=batch
        )
    finally:
        await engine.dispose()
    print(
        f"rotate-keys: {report.resealed} re-encrypted under "
        f"{settings.key_ring().primary_version}, {report.skipped_changed} changed meanwhile "
        f"(already current), {report.failed} failed"
    )
    return 1 if report.failed else 0


def run() -> None:
    parser = argparse.ArgumentParser(prog="python -m cachalot_auth")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP service (default)")
    sub.add_parser("migrate", help="upgrade the database schema and exit")
    rotate = sub.add_parser("rotate-keys", help="re-encrypt every token under the newest key")
    rotate.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    if args.command in (None, "serve"):
        main()
        return
    settings = load_settings(AuthSettings, "cachalot-auth")
    setup_logging("auth", level=settings.log_level, fmt=settings.log_format)
    register_secrets(settings)
    if args.command == "migrate":
        run_migrations(ALEMBIC_DIR, settings.database_url)
        print("migrate: database is at the newest schema")
        return
    raise SystemExit(asyncio.run(_rotate(settings, args.batch)))
