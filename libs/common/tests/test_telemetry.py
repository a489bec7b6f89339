"""Telemetry: outgoing spans never carry a bot token; unexported spans cost nothing."""

from __future__ import annotations

import httpx
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
