"""Sandbox: a stand-in for the Telegram Login Widget (legacy widget data).

- ``GET /sandbox/telegram/login?return_to=<url>``: a page with fake Telegram
  users; picking one (``POST /sandbox/telegram/login``) redirects to
  ``return_to`` with ``id, first_name[, last_name][, username][, photo_url],
  auth_date, hash`` in the query, exactly what the widget's ``data-auth-url``
  receives. ``GET …/login?return_to=…&user=<id>&sandbox_auto=1`` skips the click.
- ``GET /sandbox/telegram/login-data?id=…[&auth_date=…&first_name=…&username=…]
  [&extra=name=value…]``: the same signed data as JSON, for tests (``auth_date``
  lets them go stale; ``extra`` adds fields Telegram may send one day, signed too).

The hash is Telegram's: hex HMAC-SHA256 of the sorted ``key=value`` lines,
keyed by SHA-256 of the bot token (``CACHALOT_TELEGRAM_BOT_TOKEN``).
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.telegram_login.widget import widget_router


def create_router(settings: SandboxSettings) -> APIRouter:
    return widget_router(settings)


def reset() -> None:
    """The widget keeps no state."""
