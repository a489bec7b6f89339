"""The public API's OpenAPI document: built from the services, checked in, never stale."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cachalot_embedded.openapi import (
    DOCUMENT_FILE,
    REGENERATE,
    merge_documents,
    render,
    service_documents,
)
from cachalot_embedded.routes import ROUTES, service_for

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What the regeneration command writes now, run as the lead runs it (own process)."""
    target = tmp_path_factory.mktemp("openapi") / "openapi.json"
    done = subprocess.run(
        [sys.executable, "-m", "cachalot_embedded.openapi", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return target.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def document(generated: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(generated)
    return parsed


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_checked_in_document_is_what_the_services_build_now(generated: str) -> None:
    checked_in = DOCUMENT_FILE.read_text(encoding="utf-8")
    assert checked_in == generated, (
        f"{DOCUMENT_FILE.relative_to(ROOT)} is stale (a service's public API changed): "
        f"run `{REGENERATE}` and commit the file"
    )


def test_the_document_holds_every_public_path_of_each_service_and_nothing_else(
    document: dict[str, Any],
) -> None:
    own = service_documents()
    expected = {
        path
        for service, doc in own.items()
        for path in doc["paths"]
        if service_for(path) == service
    }
    assert set(document["paths"]) == expected
    for prefix, _ in ROUTES:
        assert any(p == prefix or p.startswith(prefix + "/") for p in expected), prefix
    for path in document["paths"]:
        assert not path.startswith(("/internal", "/metrics", "/healthz", "/readyz")), path
    leased = [p for doc in own.values() for p in doc["paths"] if p.startswith("/internal/")]
    assert leased, "auth's internal lease path should exist, and be left out"


def test_every_reference_resolves_and_every_operation_id_is_unique(
    document: dict[str, Any],
) -> None:
    for ref in refs(document):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][section], ref
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))
    assert document["openapi"].startswith("3.")
    assert "/api/v1/contact" in document["paths"]
    assert "/api/v1/media" in document["paths"]
    unused = set(document["components"]["schemas"]) - {r.rsplit("/", 1)[1] for r in refs(document)}
    assert not unused, f"components no public path uses: {unused}"


def service(schemas: dict[str, Any], path: str, ref: str) -> dict[str, Any]:
    """A minimal OpenAPI document: one POST at ``path`` whose body is ``ref``."""
    body = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}
    return {
        "openapi": "3.1.0",
        "paths": {path: {"post": {"operationId": f"op{path}", "requestBody": body}}},
        "components": {"schemas": schemas},
    }


def test_components_alike_are_kept_once_and_differing_ones_renamed_per_service() -> None:
    error = {"type": "object", "properties": {"detail": {"type": "string"}}}
    contact = service(
        {
            "In": {"type": "object", "properties": {"e": {"$ref": "#/components/schemas/Error"}}},
            "Error": error,
        },
        "/api/v1/contact",
        "In",
    )
    queue = service(
        {"In": {"type": "string"}, "Error": error, "Unused": {"type": "integer"}},
        "/api/v1/posts",
        "In",
    )
    queue["paths"]["/internal/v1/thing"] = {"get": {"operationId": "internal"}}

    merged = merge_documents({"contact": contact, "queue": queue})
    again = merge_documents({"queue": queue, "contact": contact})

    assert render(merged) == render(again), "the order the services come in does not matter"
    schemas = merged["components"]["schemas"]
    assert sorted(schemas) == ["Error", "contact_In", "queue_In"]
    assert schemas["contact_In"]["properties"]["e"] == {"$ref": "#/components/schemas/Error"}
    assert schemas["queue_In"] == {"type": "string"}
    contact_body = merged["paths"]["/api/v1/contact"]["post"]["requestBody"]
    assert contact_body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/contact_In"
    }
    assert sorted(merged["paths"]) == ["/api/v1/contact", "/api/v1/posts"]


def test_a_path_is_kept_only_from_the_service_the_gateway_sends_it_to() -> None:
    queue = service({"In": {"type": "string"}}, "/api/v1/posts", "In")
    auth = service({"In": {"type": "string"}}, "/api/v1/posts", "In")
    merged = merge_documents({"queue": queue, "auth": auth})
    assert list(merged["paths"]) == ["/api/v1/posts"]
    kept = merged["paths"]["/api/v1/posts"]["post"]
    original = queue["paths"]["/api/v1/posts"]["post"]
    assert {k: v for k, v in kept.items() if k != "responses"} == original


def test_every_operation_documents_what_the_gateway_answers_for_it() -> None:
    """400 (a path it refuses), 503/504 (a service down or silent), 413 where a body goes."""
    queue = service({"In": {"type": "string"}}, "/api/v1/posts", "In")
    queue["paths"]["/api/v1/posts"]["get"] = {
        "operationId": "list",
        "responses": {"400": {"description": "the service's own"}},
    }
    merged = merge_documents({"queue": queue})
    post = merged["paths"]["/api/v1/posts"]["post"]["responses"]
    get = merged["paths"]["/api/v1/posts"]["get"]["responses"]
    assert sorted(post) == ["400", "413", "503", "504"]
    assert sorted(get) == ["400", "503", "504"], "no body, no 413"
    assert get["400"] == {"description": "the service's own"}, "a service's own answer wins"
    assert "application/problem+json" in post["503"]["content"]


def test_two_services_with_one_operation_id_are_refused() -> None:
    queue = service({"In": {"type": "string"}}, "/api/v1/posts", "In")
    auth = service({"In": {"type": "string"}}, "/api/v1/me", "In")
    auth["paths"]["/api/v1/me"]["post"]["operationId"] = "op/api/v1/posts"
    with pytest.raises(ValueError, match="operationId"):
        merge_documents({"queue": queue, "auth": auth})
