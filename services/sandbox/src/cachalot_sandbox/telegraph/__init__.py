"""Sandbox: a fake of the Telegraph API (``createAccount``, ``createPage``, ``getPage``).

Mounted at ``/telegraph`` (standing in for ``https://api.telegra.ph``: the
setting ``CACHALOT_TELEGRAPH_API_BASE``), pages readable at
``/telegraph/pages/<path>``, controls under ``/sandbox/telegraph``.
"""

from __future__ import annotations

from cachalot_sandbox.telegraph.api import create_router, state

__all__ = ["create_router", "reset"]


def reset() -> None:
    """Forget accounts, pages and pending faults."""
    state.reset()
