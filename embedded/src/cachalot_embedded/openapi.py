"""One OpenAPI document of the public API, as the gateway serves it.

DESIGN.md ("Public API"): ``GET /api/v1/openapi.json`` at the gateway. The
document is built from the services themselves: each service behind a
public route (:data:`cachalot_embedded.routes.ROUTES`) builds its FastAPI app
with throwaway settings (no network, no database opened, a temporary
directory for files) and its ``openapi()`` is taken; only the paths the
gateway routes to that service are kept (never ``/internal/...``, probes or
metrics), and the components are merged (:func:`merge_documents`).

The result is checked in (:data:`DOCUMENT_FILE`), served as a static file by
both gateways (nginx in Compose and Kubernetes, the embedded gateway), and
regenerated with one command after a service's API changes::

    uv run --frozen python -m cachalot_embedded.openapi

embedded/tests fails while the checked-in file differs from what this builds.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from cachalot_common.problems import problem_responses
from cachalot_embedded.routes import ROUTES, service_for

ROOT: Final = Path(__file__).resolve().parents[3]
DOCUMENT_FILE: Final = ROOT / "deploy" / "gateway" / "openapi.json"
DOCUMENT_PATH: Final = "/api/v1/openapi.json"  # where both gateways serve it
DOCS_PATH: Final = "/api/v1/docs"  # the page that shows it (web/api-docs.html, Swagger UI)
DOCS_PAGE: Final = "api-docs.html"  # in web/, the file both gateways serve at DOCS_PATH
REGENERATE: Final = "uv run --frozen python -m cachalot_embedded.openapi"
TITLE: Final = "CACHALOT public API"
VERSION: Final = "1"  # the /api/v1 the paths carry
# What the gateway itself may answer on any route, before or instead of the
# service: 400 a path it refuses (an encoded separator, a control character,
# a dot-segment climbing out), 503/504 a service that is down, dropped the
# request or did not answer; 413 a body over the route's cap (body routes).
GATEWAY_RESPONSES: Final = problem_responses(400, 503, 504)
GATEWAY_BODY_RESPONSES: Final = problem_responses(413)

Document = dict[str, Any]
_REF_PREFIX: Final = "#/components/"


# ------------------------------------------------------------------ the services


def _contact(workdir: Path) -> Any:
    from cachalot_contact.main import create_app
    from cachalot_contact.settings import ContactSettings

    settings = ContactSettings(
        contact_log_dir=workdir / "contact",
        contact_relay="external",  # no relay process, no broker
        rate_limit_storage="memory://",
    )
    return create_app(settings)


def _auth(workdir: Path) -> Any:
    from cachalot_auth.main import create_app
    from cachalot_auth.settings import AuthSettings
    from cachalot_common.crypto import generate_key

    settings = AuthSettings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{workdir / 'auth.db'}",
        token_keys=f"v1:{generate_key()}",
        session_secret="openapi-throwaway-secret",
        service_credentials="{}",
        public_url="http://127.0.0.1",
    )
    return create_app(settings, publish=_discard, run_background=False)


def _queue(workdir: Path) -> Any:
    from cachalot_queue.main import create_app
    from cachalot_queue.settings import QueueSettings

    settings = QueueSettings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{workdir / 'queue.db'}",
        session_secret="openapi-throwaway-secret",
        media_dir=workdir / "media",
        otlp_endpoint=None,
        run_workers=False,
    )
    return create_app(settings)


def _notifier(workdir: Path) -> Any:
    from cachalot_notifier.main import create_app
    from cachalot_notifier.settings import NotifierSettings

    settings = NotifierSettings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{workdir / 'notifier.db'}",
        telegram_bot_token="123456:openapi-throwaway",  # type: ignore[arg-type]
        operator_chat_id="1",
        smtp_host="127.0.0.1",  # e-mail on: its unsubscribe routes are public
        smtp_from="openapi@example.invalid",
        service_secret="openapi-throwaway-secret",  # type: ignore[arg-type]
        session_secret="openapi-throwaway-secret",  # type: ignore[arg-type]
    )
    return create_app(settings)


async def _discard(topic: str, key: str, payload: bytes) -> None:
    """auth's event publisher while only its OpenAPI is wanted: nothing is published."""


# Each service behind a public route, and how to build its app without a network.
BUILDERS: Final[Mapping[str, Callable[[Path], Any]]] = {
    "contact": _contact,
    "auth": _auth,
    "queue": _queue,
    "notifier": _notifier,
}


@contextlib.contextmanager
def _no_cachalot_environment() -> Iterator[None]:
    """The settings see only what is passed here, not the caller's CACHALOT_* variables."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("CACHALOT_")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def service_documents() -> dict[str, Document]:
    """Each public service's own OpenAPI document (``app.openapi()``), by service name.

    Raises ``LookupError`` when :data:`ROUTES` names a service with no
    builder here (add one to :data:`BUILDERS`).
    """
    services = list(dict.fromkeys(service for _, service in ROUTES))
    missing = [service for service in services if service not in BUILDERS]
    if missing:
        raise LookupError(f"no OpenAPI builder for {missing}: add one to {__name__}.BUILDERS")
    documents: dict[str, Document] = {}
    with tempfile.TemporaryDirectory(prefix="cachalot-openapi-") as tmp, _no_cachalot_environment():
        for service in services:
            app = BUILDERS[service](Path(tmp))
            documents[service] = copy.deepcopy(app.openapi())
    return documents


# ------------------------------------------------------------------ merging


def _rename_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """``node`` with every ``$ref`` to a renamed component pointing at its new name.

    ``renames``: ``"<section>/<old name>"`` -> new name.
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                section, _, name = value.removeprefix(_REF_PREFIX).partition("/")
                new = renames.get(f"{section}/{name}")
                out[key] = f"{_REF_PREFIX}{section}/{new}" if new else value
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def _rename_security(operation: Document, renames: Mapping[str, str]) -> None:
    """Security requirements name their schemes by key, not by ``$ref``."""
    for requirement in operation.get("security", []):
        for old in list(requirement):
            new = renames.get(f"securitySchemes/{old}")
            if new:
                requirement[new] = requirement.pop(old)


def _refs(node: Any) -> Iterator[tuple[str, str]]:
    """Every (section, name) ``node`` refers to: ``$ref``s and security scheme keys."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                section, _, name = value.removeprefix(_REF_PREFIX).partition("/")
                yield section, name
            elif key == "security" and isinstance(value, list):
                for requirement in value:
                    for scheme in requirement:
                        yield "securitySchemes", scheme
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _used_components(paths: Document, components: Document) -> dict[str, Document]:
    """The components ``paths`` use, directly or through other components."""
    used: set[tuple[str, str]] = set()
    pending = list(_refs(paths))
    while pending:
        section, name = pending.pop()
        if (section, name) in used or name not in components.get(section, {}):
            continue
        used.add((section, name))
        pending.extend(_refs(components[section][name]))
    kept: dict[str, Document] = {}
    for section, name in used:
        kept.setdefault(section, {})[name] = components[section][name]
    return kept


def merge_documents(documents: Mapping[str, Document]) -> Document:
    """One document from several services' own, keeping the paths the gateway routes to each.

    ``documents``: service name -> that service's OpenAPI document. A path
    is kept when :func:`cachalot_embedded.routes.service_for` sends it to
    that service, and a component when a kept path uses it (directly or
    through another component). Components are merged section by section: one definition
    when the services agree on a name (FastAPI's ``HTTPValidationError``),
    and when they differ, every differing definition is renamed
    ``<service>_<name>`` (the references in that service's paths follow), so
    the result does not depend on the order the services are given in.
    Paths and component names are sorted, so a change shows as a small diff.

    Raises ``ValueError`` when two services would leave the same path or
    operationId, or a renamed component would clash with an existing one.
    """
    kept: dict[str, Document] = {}
    for service, document in documents.items():
        public = {
            path: item
            for path, item in document.get("paths", {}).items()
            if service_for(path) == service
        }
        used = _used_components(public, document.get("components", {}))
        kept[service] = {"paths": public, "components": used}

    # Which (section, name) pairs the services define differently.
    definitions: dict[tuple[str, str], dict[str, Any]] = {}
    for service, part in kept.items():
        for section, entries in part["components"].items():
            for name, definition in entries.items():
                definitions.setdefault((section, name), {})[service] = definition
    clashing = {
        key
        for key, by_service in definitions.items()
        if len({json.dumps(d, sort_keys=True) for d in by_service.values()}) > 1
    }

    paths: Document = {}
    components: dict[str, Document] = {}
    owners: dict[str, str] = {}  # path -> service
    operation_ids: dict[str, str] = {}  # operationId -> service
    tags: dict[str, Document] = {}
    for service, part in kept.items():
        renames = {
            f"{section}/{name}": f"{service}_{name}"
            for (section, name), by_service in definitions.items()
            if (section, name) in clashing and service in by_service
        }
        for section, entries in part["components"].items():
            target = components.setdefault(section, {})
            for name, definition in entries.items():
                new = renames.get(f"{section}/{name}", name)
                if new != name and new in {n for s, n in definitions if s == section}:
                    raise ValueError(f"components/{section}: {new} exists already")
                target[new] = _rename_refs(definition, renames)
        for path, item in part["paths"].items():
            if path in paths:
                raise ValueError(f"{path} is in both {owners[path]} and {service}")
            item = _rename_refs(item, renames)
            for operation in item.values():
                if not isinstance(operation, dict):
                    continue
                _rename_security(operation, renames)
                _add_gateway_responses(operation)
                operation_id = operation.get("operationId")
                if operation_id is not None:
                    if operation_id in operation_ids:
                        raise ValueError(
                            f"operationId {operation_id} in {operation_ids[operation_id]} "
                            f"and {service}"
                        )
                    operation_ids[operation_id] = service
                for tag in operation.get("tags", []):
                    tags.setdefault(tag, {"name": tag})
            paths[path] = item
            owners[path] = service
        for tag in documents[service].get("tags", []):
            tags[tag["name"]] = tag

    merged: Document = {
        "openapi": _openapi_version(documents),
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "The public API of CACHALOT, as the gateway routes it (one origin "
                "with the dashboard). Errors are RFC 9457 problem documents. "
                f"Generated from the services; regenerate with `{REGENERATE}`."
            ),
        },
        "paths": dict(sorted(paths.items())),
    }
    if components:
        merged["components"] = {
            section: dict(sorted(entries.items()))
            for section, entries in sorted(components.items())
        }
    if tags:
        merged["tags"] = [tags[name] for name in sorted(tags)]
    return merged


def _add_gateway_responses(operation: Document) -> None:
    """Document what the gateway answers on this operation's behalf (a service's own wins)."""
    responses = operation.setdefault("responses", {})
    extra = dict(GATEWAY_RESPONSES)
    if "requestBody" in operation:
        extra.update(GATEWAY_BODY_RESPONSES)
    for status, response in extra.items():
        responses.setdefault(str(status), copy.deepcopy(response))


def _openapi_version(documents: Mapping[str, Document]) -> str:
    versions = {str(d.get("openapi", "3.1.0")) for d in documents.values()}
    if len(versions) > 1:
        raise ValueError(f"the services disagree on the OpenAPI version: {sorted(versions)}")
    return versions.pop() if versions else "3.1.0"


def build_document() -> Document:
    """The public API's OpenAPI document, built from the services (see the module doc)."""
    return merge_documents(service_documents())


def render(document: Document) -> str:
    """The document as it is checked in: 2-space JSON, UTF-8 as is, one final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write :func:`build_document` to :data:`DOCUMENT_FILE` (or the path given)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DOCUMENT_FILE
    target.write_text(render(build_document()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
