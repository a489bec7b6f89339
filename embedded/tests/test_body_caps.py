"""The gateway's body caps let through every body a service's schema allows (issue 11, A2).

A byte cap sized from raw bytes refused valid forms sent ``\\uXXXX``-escaped;
each service's JSON routes are now capped at their schema's worst case
(``cachalot_common.json_size``), and a gateway in front must not refuse what
the service would take: routes.body_limit_bytes (and nginx.conf, checked
equal to it in deploy/tests) is at least each public route's worst case.
"""

from __future__ import annotations

from cachalot_common.guards import (
    DEFAULT_MAX_BODY_BYTES,
    JSON_TYPE,
    MAX_BODY_EXTENSION,
    body_rule,
)
from cachalot_common.json_size import worst_case_json_bytes
from cachalot_embedded.openapi import service_documents
from cachalot_embedded.routes import body_limit_bytes, service_for
from cachalot_queue.schemas import PostCreate, PostUpdate, largest_body_bytes

BODY_METHODS = ("post", "put", "patch")


def test_every_public_json_route_takes_its_worst_case_body_at_the_gateway() -> None:
    checked: dict[str, int] = {}
    unbounded: list[str] = []
    own: dict[str, int] = {}
    for service, document in service_documents().items():
        for path, item in document["paths"].items():
            if service_for(path) != service:
                continue
            for method, operation in item.items():
                content = operation.get("requestBody", {}).get("content", {})
                if method not in BODY_METHODS or tuple(content) != (JSON_TYPE,):
                    continue
                where = f"{method.upper()} {path}"
                worst = worst_case_json_bytes(content[JSON_TYPE]["schema"], document)
                cap = body_limit_bytes(path.replace("{", "x").replace("}", "x"))
                rule = body_rule(operation, DEFAULT_MAX_BODY_BYTES, document)
                assert rule.max_bytes is not None
                assert cap >= rule.max_bytes, f"{where}: gateway {cap} < service {rule.max_bytes}"
                if worst is None:
                    unbounded.append(where)
                elif MAX_BODY_EXTENSION in operation:
                    # the route's own cap, from what is valid rather than what parses: the
                    # queue's posts take one platform block a target, not all five
                    # (cachalot_queue.schemas.largest_body_bytes, its own tests)
                    own[where] = rule.max_bytes
                else:
                    assert rule.max_bytes >= worst, where
                    checked[where] = worst
    assert "POST /api/v1/contact" in checked
    assert checked["POST /api/v1/contact"] > 48_000  # 4,000 characters, each 12 bytes escaped
    assert own["POST /api/v1/posts"] == largest_body_bytes(PostCreate)
    assert own["PATCH /api/v1/posts/{post_id}"] == largest_body_bytes(PostUpdate)
