"""Every API route of a service, asked with the session of the role it does not serve.

A service's OpenAPI document lists its routes; :func:`wrong_role_requests`
turns each ``/api/…`` operation into one request a session of the other role
would send (path parameters filled, a small body of a type the route takes),
so a test can assert that every one is refused with the 403 *wrong role*
problem (cachalot_common.sessions), whatever its parameters or body say.
Routes under ``/api/v1/auth/`` (sign-in and logout: any role, or none) and the
public routes of :data:`PUBLIC_PATHS` (anyone, signed in or not) are left out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

SIGN_IN_PREFIX = "/api/v1/auth/"
OPERATOR_PREFIX = "/api/v1/operator/"
WRONG_ROLE = "https://cachalot.dev/problems/wrong-role"
METHODS = ("get", "post", "put", "patch", "delete")
#: Served to anyone (cachalot_embedded.routes.PUBLIC): the privacy page's facts (queue).
PUBLIC_PATHS = frozenset({"/api/v1/privacy"})


@dataclass(frozen=True, slots=True)
class RoleRequest:
    method: str
    path: str
    role: str
    """The role the route serves: the test sends the *other* role's session."""
    headers: dict[str, str]
    body: bytes


def _body(operation: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    content = (operation.get("requestBody") or {}).get("content") or {}
    if not content:
        return {}, b""
    kind = "application/json" if "application/json" in content else next(iter(content))
    if kind == "application/json":
        return {"Content-Type": kind}, b"{}"
    return {"Content-Type": kind.replace("*", "mp4")}, b"\x00" * 16


def wrong_role_requests(openapi: dict[str, Any]) -> list[RoleRequest]:
    """One request per ``/api`` operation outside sign-in, its path parameters filled."""
    requests: list[RoleRequest] = []
    for path, item in openapi.get("paths", {}).items():
        if not path.startswith("/api/") or path.startswith(SIGN_IN_PREFIX) or path in PUBLIC_PATHS:
            continue
        filled = path
        while "{" in filled:
            start = filled.index("{")
            filled = filled[:start] + str(uuid.uuid4()) + filled[filled.index("}", start) + 1 :]
        role = "operator" if path.startswith(OPERATOR_PREFIX) else "client"
        for method in METHODS:
            if method in item:
                headers, body = _body(item[method])
                requests.append(RoleRequest(method.upper(), filled, role, headers, body))
    return requests
