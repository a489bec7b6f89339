"""Telemetry: outgoing spans never carry a bot token; unexported spans cost nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cachalot_common.telemetry import instrument_httpx_client

TOKEN = "987654321:AAF-secret-secret-secret-secret-xyz"


async def test_httpx_span_url_is_redacted() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:
        instrument_httpx_client(client, provider)
        await client.post(f"https://api.telegram.org/bot{TOKEN}/sendMessage?x=1", json={})
    spans = exporter.get_finished_spans()
    assert spans
    for span in spans:
        for value in (span.attributes or {}).values():
            assert TOKEN not in str(value)
        assert TOKEN not in span.name


def test_with_nowhere_to_export_spans_are_not_recorded_but_the_trace_id_still_travels() -> None:
    from opentelemetry import propagate

    from cachalot_common.telemetry import setup_tracing

    provider = setup_tracing("bench-probe")
    tracer = provider.get_tracer("probe")
    with tracer.start_as_current_span("root") as span:
        assert not span.is_recording()
        trace_id = span.get_span_context().trace_id
        assert trace_id != 0
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    assert carrier["traceparent"].split("-")[1] == f"{trace_id:032x}"


def test_with_nowhere_to_export_platform_clients_are_left_unwrapped() -> None:
    from cachalot_common.telemetry import setup_tracing

    client = httpx.AsyncClient()
    instrument_httpx_client(client, setup_tracing("bench-probe"))
    assert not getattr(client, "_is_instrumented_by_opentelemetry", False)
    instrument_httpx_client(client, TracerProvider())  # a provider that records: wrapped
    assert getattr(client, "_is_instrumented_by_opentelemetry", False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/spans.db"
    url: str = request.getfixturevalue("postgres_database")
    return url


async def test_each_sql_statement_of_an_async_engine_is_a_child_span_without_its_parameters(
    database_url: str,
) -> None:
    from sqlalchemy import text

    from cachalot_common.db import create_engine
    from cachalot_common.telemetry import instrument_engine

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    engine = create_engine(database_url)
    instrument_engine(engine, provider)
    secret = "tok-" + "s3cr3t" * 4
    try:
        with provider.get_tracer("test").start_as_current_span("request") as request:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE vault (id INTEGER, token TEXT)"))
                await connection.execute(
                    text("INSERT INTO vault (id, token) VALUES (:id, :token)"),
                    {"id": 1, "token": secret},
                )
                found = await connection.execute(
                    text("SELECT id FROM vault WHERE token = :token"), {"token": secret}
                )
                assert found.scalar_one() == 1
    finally:
        await engine.dispose()
    spans = [s for s in exporter.get_finished_spans() if s.name != "request"]
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in spans]
    assert any(s.startswith("INSERT INTO vault") for s in statements), statements
    assert any(s.startswith("SELECT id FROM vault") for s in statements), statements
    trace_id = request.get_span_context().trace_id
    for span in spans:
        assert span.context is not None
        assert span.context.trace_id == trace_id
        assert span.kind.name == "CLIENT"
        assert secret not in span.name
        for value in (span.attributes or {}).values():
            assert secret not in str(value)


async def test_a_statement_outside_any_span_is_not_recorded_and_one_inside_a_span_is(
    tmp_path: Path,
) -> None:
    """A poll loop's SELECT (no parent span) would be a one-span trace of its own."""
    from sqlalchemy import text

    from cachalot_common.db import create_engine
    from cachalot_common.telemetry import instrument_engine

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/polls.db")
    instrument_engine(engine, provider)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1 AS poll"))
        with provider.get_tracer("test").start_as_current_span("consume") as consume:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 2 AS handled"))
    finally:
        await engine.dispose()
    spans = exporter.get_finished_spans()
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in spans]
    assert not any("poll" in s for s in statements), statements
    assert any("handled" in s for s in statements), statements
    roots = [s for s in spans if s.parent is None]
    assert [s.name for s in roots] == ["consume"]
    assert all(
        s.context is not None and s.context.trace_id == consume.get_span_context().trace_id
        for s in spans
    )


def test_with_nowhere_to_export_no_engine_is_hooked(tmp_path: Path) -> None:
    from cachalot_common.db import create_engine
    from cachalot_common.telemetry import instrument_engine, setup_tracing

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/quiet.db")
    instrument_engine(engine, setup_tracing("bench-probe"))
    instrument_engine(engine, None)
    assert not engine.sync_engine.dispatch.before_cursor_execute
    instrument_engine(engine, TracerProvider())  # a provider that records: hooked
    assert engine.sync_engine.dispatch.before_cursor_execute


def test_exported_spans_name_their_service_and_carry_no_bytes_attribute() -> None:
    """Phoenix cannot store a span with a bytes attribute (FastStream's Kafka record key):
    the trace broke at every Kafka hop until such values were made text."""
    from cachalot_common.telemetry import setup_tracing

    exporter = InMemorySpanExporter()
    provider = setup_tracing("probe", exporter=exporter)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span(
        "process", attributes={"messaging.kafka.message.key": b"account-1\xff"}
    ):
        pass
    [span] = [s for s in exporter.get_finished_spans() if s.name == "process"][:1]
    attributes = dict(span.attributes or {})
    assert attributes["cachalot.service"] == "probe"
    assert attributes["messaging.kafka.message.key"] == "account-1\ufffd"


async def test_a_request_to_an_instrumented_app_makes_one_server_span_and_none_per_message() -> (
    None
):
    from fastapi import FastAPI

    from cachalot_common.telemetry import instrument_app

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    instrument_app(app, provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/echo", json={"a": 1})
    assert response.json() == {"a": 1}
    spans = exporter.get_finished_spans()
    assert [span.kind.name for span in spans] == ["SERVER"], [span.name for span in spans]


async def test_a_server_span_keeps_the_query_names_but_none_of_a_telegram_logins_values() -> None:
    from fastapi import FastAPI

    from cachalot_common.telemetry import instrument_app

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()

    @app.get("/api/v1/auth/operator/callback")
    async def callback() -> dict[str, bool]:
        return {"ok": True}

    instrument_app(app, provider)
    login = {  # what the Login Widget appends (core.telegram.org/widgets/login)
        "id": "700000003",
        "first_name": "Карина",
        "username": "karina_ops",
        "photo_url": "https://t.me/i/userpic/320/karina.jpg",
        "auth_date": "1764662400",
        "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "state": "s-1",
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/v1/auth/operator/callback", params=login)).status_code == 200
    [span] = exporter.get_finished_spans()
    text = " ".join(f"{k}={v}" for k, v in (span.attributes or {}).items())
    for value in login.values():
        assert value not in text, value
        assert str(httpx.QueryParams({"v": value}))[2:] not in text, value  # nor encoded
    assert "first_name=***" in text, text
    assert "hash=***" in text, text
