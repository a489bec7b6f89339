"""The gateway's body caps let through every body a service's schema allows (issue 11, A2).

A byte cap sized from raw bytes refused valid forms sent ``\\uXXXX``-escaped;
each service's JSON routes are now capped at their schema's worst case
(``cachalot_common.json_size``), and a gateway in front must not refuse what
the service would take: routes.body_limit_bytes (and nginx.conf, checked
equal to it in deploy/tests) is at least each public route's worst case.
"""

from __future__ import annotations

from cachalot_common.guards import DEFAULT_MAX_BODY_BYTES, JSON_TYPE, body_rule
from cachalot_common.json_size import worst_case_json_bytes
from cachalot_embedded.openapi import service_documents
from cachalot_embedded.routes import body_limit_bytes, service_for

BODY_METHODS = ("post", "put", "patch")


def test_every_public_json_route_takes_its_worst_case_body_at_the_gateway() -> None:
    checked: dict[str, int] = {}
    unbounded: list[str] = []
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
                else:
                    assert rule.max_bytes >= worst, where
                    checked[where] = worst
    assert "POST /api/v1/contact" in checked
    assert checked["POST /api/v1/contact"] > 48_000  # 4,000 characters, each 12 bytes escaped
