"""OpenTelemetry tracing across API -> workflow -> activities -> provider calls.

Off unless `otel_exporter_otlp_endpoint` is set; then each process exports its spans over
OTLP/HTTP (`configure_tracing`) and three instrumentations join them into one trace:

- the API's requests (FastAPI instrumentation): the server span of ``POST /invoices``;
- Temporal (the SDK's `TracingInterceptor`, on every client through
  `core.temporal.client_interceptors`, so on every worker built on one): StartWorkflow
  in the API carries the context in the workflow's headers, RunWorkflow, StartActivity
  and RunActivity follow it; a signal or update (a webhook, a click) is its own trace,
  linked from the workflow's HandleSignal/HandleUpdate span;
- provider calls (httpx instrumentation of the worker's provider client, which wraps
  its aiohttp transport): one client span per request, a child of RunActivity, and a
  ``traceparent`` header to the provider.

Workflow spans are the interceptor's: created and ended at once (zero length) and not
again on replay, so workflows stay deterministic. Tests pass their own tracer provider
(in-memory exporter) instead of the global one.

Link tokens travel in request paths: the API span's URL attributes are rewritten with
the logs' redaction (`core.logging.redact_tokens`) before any exporter sees them; the
span name is the route template.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.trace import Span, TracerProvider
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.logging import redact_tokens
from core.settings import Settings

# probes and scrapes every few seconds: traces of them are noise
EXCLUDED_URLS = "/metrics,/healthz"


def traces_endpoint(endpoint: str) -> str:
    """A collector's base URL (http://collector:4318) or its traces URL, as the traces URL."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def configure_tracing(settings: Settings, part: str) -> TracerProvider | None:
    """The process's global tracer provider exporting over OTLP, or None when tracing is
    off. `part`: "api" or "worker", appended to the service name."""
    if not settings.tracing_enabled or settings.otel_exporter_otlp_endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = SdkTracerProvider(
        resource=Resource.create({"service.name": f"{settings.otel_service_name}-{part}"})
    )
    exporter = OTLPSpanExporter(endpoint=traces_endpoint(settings.otel_exporter_otlp_endpoint))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Flush the spans still queued (a worker stopping exports what it did last)."""
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


def temporal_interceptors(provider: TracerProvider | None = None) -> Sequence[TracingInterceptor]:
    """The SDK's tracing interceptor on `provider`'s tracer (default: the global one,
    resolved when a span starts, so configuring tracing after this call still counts)."""
    tracer = trace.get_tracer("invoiceflow.temporal", tracer_provider=provider)
    return (TracingInterceptor(tracer),)


def _redact_url_attributes(span: Span, scope: dict[str, Any]) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key, value in list(attributes.items()):
        if isinstance(value, str) and key.startswith(("http.", "url.")):
            redacted = redact_tokens(value)
            if redacted != value:
                span.set_attribute(key, redacted)


def instrument_app(app: FastAPI, provider: TracerProvider | None = None) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        server_request_hook=_redact_url_attributes,
        exclude_spans=["receive", "send"],  # one span per request, not three
    )


def instrument_http(client: Any, provider: TracerProvider | None = None) -> None:
    """Spans for the requests of one httpx client (its transport is wrapped, aiohttp's
    included), children of the current span (the activity's)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
