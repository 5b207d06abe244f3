"""Tracing is off unless an OTLP endpoint is configured; then spans leave the process over
OTLP/HTTP under the process's service name (core/tracing.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from temporalio.contrib.opentelemetry import TracingInterceptor

from core.settings import Settings
from core.temporal import client_interceptors
from core.tracing import configure_tracing, traces_endpoint

ROOT = Path(__file__).resolve().parents[2]

EXPORTING = """
import sys
from opentelemetry import trace
from core.settings import Settings
from core.tracing import configure_tracing, shutdown_tracing

settings = Settings(environment="test", otel_exporter_otlp_endpoint=sys.argv[1])
provider = configure_tracing(settings, "worker")
assert provider is not None
with trace.get_tracer("probe").start_as_current_span("probe.span"):
    pass
shutdown_tracing(provider)
"""


def test_off_by_default_no_interceptor_no_provider() -> None:
    settings = Settings(environment="test")
    assert not settings.tracing_enabled
    assert tuple(client_interceptors(settings)) == ()
    assert configure_tracing(settings, "api") is None


def test_an_endpoint_turns_on_the_sdk_interceptor_for_every_client() -> None:
    settings = Settings(environment="test", otel_exporter_otlp_endpoint="http://collector:4318")
    [interceptor] = client_interceptors(settings)
    assert isinstance(interceptor, TracingInterceptor)


def test_the_traces_url_is_derived_from_a_collectors_base_url() -> None:
    assert traces_endpoint("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_endpoint("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_endpoint("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_spans_are_exported_over_otlp_http_under_the_service_name() -> None:
    received: list[tuple[str, str | None, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, self.headers.get("Content-Type"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        # a process of its own: the global tracer provider can be set once per process
        subprocess.run([sys.executable, "-c", EXPORTING, url], cwd=ROOT, check=True, timeout=60)
    finally:
        server.shutdown()
    [(path, content_type, body)] = received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"invoiceflow-worker" in body and b"probe.span" in body
