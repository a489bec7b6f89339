"""The AsyncAPI 3.0 document of a service's Kafka traffic, served at ``GET /asyncapi``.

The kit (:mod:`cachalot_common.consuming`) records the pydantic model of every
topic a service subscribes to; each service declares what it produces
(:class:`Produced`) once, in its ``create_app``. The document is built by
FastStream's own generator (``faststream.specification.AsyncAPI``) from a
documentation-only broker holding typed subscribers and ``publisher(schema=)``
declarations: the live broker's handlers take raw bytes (the kit decodes), so
FastStream would otherwise document every payload as bytes, and the live
broker is left exactly as it was (no extra publishers, no wire change).

Every consumed topic also yields a produced ``<topic>.dlq`` channel: records
that failed to decode or were refused, parked unchanged with an
``x-dlq-reason`` header (:func:`cachalot_common.consuming.dead_letter`).

Checked-in copies: ``docs/asyncapi/<service>.json``, written by
``uv run --frozen python -m cachalot_embedded.asyncapi``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from cachalot_common.consuming import consumed_routes
from cachalot_common.topics import dlq

SERVER = "kafka:9092"  # a stable placeholder: the real bootstrap is a deployment setting


@dataclass(frozen=True)
class Produced:
    """One topic a service writes: the event model on the wire and what it means."""

    topic: str
    model: type[BaseModel]
    description: str


def _typed_handler(model: type[BaseModel]) -> Callable[..., Any]:
    async def handler(body: Any) -> None:  # never called: only its signature is read
        return None

    handler.__annotations__ = {"body": model, "return": None}
    return handler


def asyncapi_document(
    broker: KafkaBroker | None,
    *,
    title: str,
    version: str,
    produced: Iterable[Produced] = (),
) -> dict[str, Any]:
    """The service's AsyncAPI 3.0.0 document as JSON-ready data.

    ``broker``: the service's live broker (its kit-registered subscriptions
    are read, nothing on it changes), or None for a service without one.
    ``produced``: what the service writes. Channels are named
    ``<topic>:consume`` / ``<topic>:send``; payloads are the models' JSON schemas.
    """
    docs = KafkaBroker(SERVER)
    consumed = consumed_routes(broker) if broker is not None else {}
    for topic, (model, group) in sorted(consumed.items()):
        readers = f"consumer group {group}" if group else "no group: every replica reads all"
        docs.subscriber(
            topic,
            group_id=group,
            title=f"{topic}:consume",
            description=f"{model.__name__} records; {readers}.",
        )(_typed_handler(model))
    sends = {p.topic: p for p in produced}
    for topic, (model, _) in consumed.items():
        sends.setdefault(
            dlq(topic),
            Produced(
                dlq(topic),
                model,
                f"Records of {topic} that failed to decode or were refused, unchanged"
                " (so possibly not this shape), with an x-dlq-reason header.",
            ),
        )
    for topic, item in sorted(sends.items()):
        docs.publisher(
            topic, schema=item.model, title=f"{topic}:send", description=item.description
        )
    spec = AsyncAPI(docs, title=title, version=version, schema_version="3.0.0")
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def asyncapi_router(document: Callable[[Request], dict[str, Any]]) -> APIRouter:
    """``GET /asyncapi``: the document as ``application/json`` (built per request, cheap)."""
    router = APIRouter()

    @router.get("/asyncapi", include_in_schema=False)
    async def asyncapi(request: Request) -> JSONResponse:
        return JSONResponse(document(request))

    return router
