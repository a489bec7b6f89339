"""Which service answers which public path: the gateway's route table.

The same table is written out for the distributed gateway
(``deploy/gateway/nginx.conf``); keep them in step.
"""

from __future__ import annotations

from typing import Final

ROUTES: Final[tuple[tuple[str, str], ...]] = (
    ("/api/v1/contact", "contact"),
    ("/api/v1/auth", "auth"),
    ("/api/v1/me", "auth"),
    ("/api/v1/accounts", "auth"),
    ("/api/v1/media", "queue"),
    ("/api/v1/posts", "queue"),
)


def service_for(path: str) -> str | None:
    """The service that owns ``path``, or None when no route matches."""
    for prefix, service in ROUTES:
        root = prefix.rstrip("/")
        if path == root or path.startswith(root + "/"):
            return service
    return None
