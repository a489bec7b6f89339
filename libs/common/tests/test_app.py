"""Every service app answers errors as problem details and has probes."""

from __future__ import annotations

import gc

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from cachalot_common.app import GC_THRESHOLDS, create_service_app, tune_gc
from cachalot_common.problems import Problem
from cachalot_common.settings import ServiceSettings


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=5)
    count: int


def _app() -> FastAPI:
    async def failing() -> bool:
        return False

    app = create_service_app(title="t", settings=ServiceSettings(), readiness={"database": failing})

    @app.post("/things")
    async def create(body: _Body) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/teapot")
    async def teapot() -> None:
        raise Problem(409, "already brewing", code="busy")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


async def _client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_validation_errors_name_every_bad_field() -> None:
    async with await _client() as client:
        response = await client.post("/things", json={"name": "toolong", "count": "x", "z": 1})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) == {"name", "count", "z"}
    assert fields["z"] == "unknown field"


async def test_non_json_body_is_a_clear_422() -> None:
    async with await _client() as client:
        response = await client.post(
            "/things", content=b"{nope", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


async def test_problem_and_not_found_and_unexpected_errors() -> None:
    async with await _client() as client:
        conflict = await client.get("/teapot")
        missing = await client.get("/nowhere")
        crash = await client.get("/boom")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "busy"
    assert missing.status_code == 404
    assert missing.json()["title"] == "Not Found"
    assert crash.status_code == 500
    assert "secret internals" not in crash.text


async def test_health_is_alive_and_readiness_reports_failing_checks() -> None:
    async with await _client() as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "failing"}


async def test_metrics_are_served_for_a_scraper_and_kept_out_of_the_openapi_document() -> None:
    from prometheus_client import Counter

    Counter("cachalot_test_things_total", "Things, for this test.", ["kind"]).labels("a").inc()
    async with await _client() as client:
        metrics = await client.get("/metrics")
        schema = (await client.get("/openapi.json")).json()
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'cachalot_test_things_total{kind="a"} 1.0' in metrics.text
    assert "/metrics" not in schema["paths"]


async def test_a_path_off_a_route_by_a_trailing_slash_is_a_404_problem_not_a_redirect() -> None:
    app = _app()
    router = APIRouter(prefix="/api/v1/dir")

    @router.get("/")
    async def listing() -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    # The Host an embedded gateway sends: the service's own internal address.
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8101") as client:
        for method, path in (("POST", "/things/"), ("GET", "/api/v1/dir"), ("GET", "/healthz/")):
            answer = await client.request(method, path, json={"name": "a", "count": 1})
            assert answer.status_code == 404, path
            assert "location" not in answer.headers, path
            assert answer.headers["content-type"].startswith("application/problem+json"), path
            assert "8101" not in answer.text
        assert (await client.get("/api/v1/dir/")).status_code == 200


async def test_asyncapi_documents_what_the_broker_decodes_and_the_service_produces() -> None:
    from faststream.kafka import KafkaBroker

    from cachalot_common.asyncapi import Produced
    from cachalot_common.consuming import subscribe

    async def handle(_: _Body) -> None:
        return None

    broker = KafkaBroker("localhost:1")  # built, never connected
    subscribe(broker, "things.v1", _Body, handle, group_id="things")
    app = create_service_app(
        title="t",
        settings=ServiceSettings(),
        produces=[Produced("made.v1", _Body, "A thing was made.")],
    )
    app.state.broker = broker
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/asyncapi")
        openapi = (await client.get("/openapi.json")).json()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {"title": "t", "version": "0.1.0"}
    channels = {name: c["address"] for name, c in document["channels"].items()}
    assert channels == {
        "things.v1:consume": "things.v1",
        "things.v1.dlq:send": "things.v1.dlq",
        "made.v1:send": "made.v1",
    }
    assert {o["action"] for o in document["operations"].values()} == {"receive", "send"}
    for message in document["components"]["messages"].values():
        assert message["payload"] == {"$ref": "#/components/schemas/_Body"}
    assert set(document["components"]["schemas"]["_Body"]["properties"]) == {"name", "count"}
    assert list(broker.publishers) == []  # the live broker gained nothing: wire unchanged
    assert "/asyncapi" not in openapi["paths"]


def test_a_served_process_freezes_what_it_built_and_collects_young_objects_less_often() -> None:
    thresholds = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_threshold()[0] > thresholds[0], "fewer collections than CPython's default"
        assert gc.get_freeze_count() > 0, "what was built before serving is frozen"
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
