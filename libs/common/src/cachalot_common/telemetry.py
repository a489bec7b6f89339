"""OpenTelemetry for a service: one tracer provider, FastAPI, httpx, Kafka, SQL.

Traces go over OTLP/HTTP to Jaeger when ``CACHALOT_OTLP_ENDPOINT`` is set; in
embedded mode and tests nothing is exported unless asked (tests pass their
own exporter to check what spans contain). URLs recorded by the httpx
instrumentation are redacted: a Telegram URL carries the bot token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span
from sqlalchemy.ext.asyncio import AsyncEngine

from cachalot_common.redaction import redact_query, redact_url

_URL_ATTRIBUTES = ("url.full", "http.url", "http.target", "url.path", "url.query")


def _scrub_request_span(span: Span, request: Any) -> None:
    """httpx request hook: overwrite URL attributes with a redacted URL."""
    if not span.is_recording():
        return
    url = str(getattr(request, "url", "") or "")
    span.set_attribute("url.full", redact_url(url))
    span.set_attribute("http.url", redact_url(url))


def _scrub_server_span(span: Span, scope: dict[str, Any]) -> None:
    if span.is_recording():
        span.set_attribute("http.target", redact_url(str(scope.get("path", ""))))
        query = scope.get("query_string", b"")
        if query:
            span.set_attribute("url.query", redact_query(query.decode("latin-1")))
        # the full URL carries the query too (an OAuth callback's ``code``)
        attributes = getattr(span, "attributes", None) or {}
        for key in ("http.url", "url.full"):
            value = attributes.get(key)
            if value:
                span.set_attribute(key, redact_url(str(value)))


scrub_server_span = _scrub_server_span
"""A server request hook (ASGI/FastAPI instrumentation) that redacts the URL's secrets."""

_NOT_RECORDED = ParentBased(ALWAYS_OFF)


def trace_link(template: str | None, trace_id: str | None) -> str | None:
    """``template`` with ``{trace_id}`` replaced by the 32-hex-digit ``trace_id``, or None
    when either is missing (``CACHALOT_TRACE_URL_TEMPLATE``, the queue's and the notifier's
    setting: the operator console's links and the operator's Telegram message)."""
    if not template or not trace_id:
        return None
    return template.replace("{trace_id}", trace_id)


def current_trace_id() -> str | None:
    """The current span's W3C trace id (32 hex digits), or None outside any valid span."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (``00-<trace>-<span>-<flags>``, 55
    characters), or None outside any valid span.

    For work a request starts and a background loop finishes later (the queue's
    scheduler dispatching a post): kept with the row, it lets that work join the
    request's trace (W3C Trace Context, https://www.w3.org/TR/trace-context/).
    """
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


class _ServiceOnEachSpan(SpanProcessor):
    """Writes ``cachalot.service`` on each span: a UI that shows span attributes but not
    the resource (Phoenix's REST API) still tells which service made it.

    Also turns a ``bytes`` attribute into text (UTF-8, undecodable bytes replaced):
    FastStream records a Kafka record's key as bytes, OTLP carries it as
    ``bytes_value`` and Phoenix cannot store such a span (it dropped every Kafka
    "process" span, cutting the trace in two at each hop).
    """

    def __init__(self, service: str) -> None:
        self._service = service

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span.set_attribute("cachalot.service", self._service)
        for key, value in dict(getattr(span, "attributes", None) or {}).items():
            if isinstance(value, bytes):
                span.set_attribute(key, value.decode("utf-8", "replace"))


def setup_tracing(
    service: str,
    *,
    otlp_endpoint: str | None = None,
    exporter: SpanExporter | None = None,
) -> TracerProvider:
    """Build this process's tracer provider and make it the global one.

    With nowhere to export (no ``exporter``, no ``otlp_endpoint``: embedded mode)
    spans are not recorded (``ParentBased(ALWAYS_OFF)``): trace and span ids are
    still made and carried in HTTP and Kafka headers, and logs still show
    ``trace_id``, but no span objects are filled and dropped (issue 9: spans
    nobody exports cost about a millisecond of every post per service).
    """
    # openinference.project.name: the one project of Phoenix (make dev TRACES=1) that
    # every service's spans go to, so a trace is whole in one place
    resource = Resource.create({"service.name": service, "openinference.project.name": "cachalot"})
    if exporter is None and not otlp_endpoint:
        provider = TracerProvider(resource=resource, sampler=_NOT_RECORDED)
    else:
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(_ServiceOnEachSpan(service))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    elif otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Server spans for every request except health probes.

    One span per request: no child span per ASGI ``receive`` and ``send`` message
    (``exclude_spans``, as the embedded gateway has it). They said nothing the server
    span does not, and each opened a span and attached a context even when nothing
    is recorded: about a tenth of auth's CPU per lease (issue 9).
    """
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls="healthz,readyz",
        exclude_spans=["receive", "send"],
        server_request_hook=_scrub_server_span,
    )


async def _scrub_request_span_async(span: Span, request: Any) -> None:
    _scrub_request_span(span, request)


def instrument_httpx_client(
    client: httpx.AsyncClient | httpx.Client, provider: TracerProvider
) -> None:
    """Client spans (one per platform call) with redacted URLs.

    The instrumentation calls an async hook for an ``AsyncClient`` and a plain
    one for a ``Client``; a hook of the wrong kind is silently skipped, which
    would leave the raw URL (and a bot token) on the span.

    Nothing is wrapped when ``provider`` records no spans (:func:`setup_tracing`
    with nowhere to export): the wrapper cost about a millisecond per TikTok post,
    and a platform has no use for our trace context.
    """
    if provider.sampler is _NOT_RECORDED:
        return
    hook: Any = (
        _scrub_request_span_async if isinstance(client, httpx.AsyncClient) else _scrub_request_span
    )
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider, request_hook=hook)


class _ChildSpansOnly(trace.Tracer):
    """A tracer whose spans are recorded only under a parent span.

    ``start_span`` with no valid current (or given) parent span returns the
    non-recording :data:`opentelemetry.trace.INVALID_SPAN`, so nothing is
    exported and no trace is started; with a parent it is the wrapped tracer's
    span. Used for database statements (see :func:`instrument_engine`).
    """

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> trace.Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, context, *args, **kwargs)

    @contextlib.contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: Any = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, *args, **kwargs)
        with trace.use_span(span, end_on_exit=True) as current:
            yield current


def instrument_engine(engine: AsyncEngine, provider: TracerProvider | None) -> None:
    """One client span per SQL statement on ``engine`` (SQLAlchemy 2 async).

    OpenTelemetry's SQLAlchemy instrumentation hooks a *sync* engine's cursor
    events; an :class:`AsyncEngine` runs its statements through
    ``engine.sync_engine``, so that is the engine traced (its ``EngineTracer``
    is used directly: ``SQLAlchemyInstrumentor().instrument()`` is once per
    process and also patches ``create_engine`` globally, and the queue has two
    engines). A span carries the statement with its placeholders
    (``db.statement``: ``... WHERE id = $1``), the database's name, host and
    user, never the bound parameters (tokens, e-mail addresses: the
    instrumentation reads ``params`` only to pass them on), and no SQL
    comment is added (``enable_commenter`` off).

    A statement run outside any span (a poll loop: the queue's due-post and
    outbox SELECTs, the notifier's, auth's) is not recorded: each would be a
    one-span trace of its own, hundreds a minute, burying the request and
    consumer traces in the UI (issue 13's fresh-user try: > 700 root traces a
    minute in Phoenix). Statements inside a request or consumer span are
    recorded as its children.

    Nothing is hooked when ``provider`` is None or records no spans
    (:func:`setup_tracing` with nowhere to export), for the reason
    :func:`instrument_httpx_client` gives.
    """
    if provider is None or provider.sampler is _NOT_RECORDED:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import NoOpMeter

    tracer = _ChildSpansOnly(
        trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__, provider)
    )
    # connection-pool usage goes to Prometheus' side, not OpenTelemetry metrics
    usage = NoOpMeter("cachalot").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine.sync_engine, usage, False, {}, False)  # type: ignore[no-untyped-call]
