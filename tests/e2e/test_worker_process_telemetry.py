"""`python -m worker` as it runs in production, with tracing and metrics configured: its
spans (RunWorkflow, RunActivity, the provider calls) reach an OTLP collector under
invoiceflow-worker in the trace of the API request that started the invoice, and its
Prometheus endpoint serves the SDK's series and ours."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client

from tests.e2e.test_lifecycle import customer_and_contract
from tests.e2e.test_tracing import traced_client
from tests.support.servers import bound_socket
from tests.support.stack import running_stack
from tests.support.worker_process import start_worker

CLOSED_GAUGE = 'invoiceflow_invoices{service_name="temporal-core-sdk",status="CLOSED"} 1'


@contextmanager
def collector() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP endpoint that keeps every body it is sent."""
    bodies: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()


async def test_the_worker_process_exports_its_spans_and_serves_its_metrics(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = traced_client(temporal, provider)  # the API's side, in this process
    with bound_socket() as probe:
        metrics_port = probe.getsockname()[1]
    with collector() as (endpoint, bodies):
        async with running_stack(
            client, sqlite_url, run_worker=False, tracer_provider=provider
        ) as stack:
            settings = stack.settings.model_copy(
                update={
                    "temporal_address": temporal.service_client.config.target_host,
                    "otel_exporter_otlp_endpoint": endpoint,
                    "worker_metrics_address": f"127.0.0.1:{metrics_port}",
                    "metrics_poll_interval_s": 0.2,
                }
            )
            worker = await start_worker(settings, tmp_path / "worker.log")
            try:
                customer, contract = await customer_and_contract(stack, email="ap@process.test")
                response = await stack.api.post(
                    "/invoices",
                    json={
                        "customer_id": customer["id"],
                        "contract_id": contract["id"],
                        "items": [{"rate_code": "senior", "quantity": "1"}],
                    },
                )
                assert response.status_code == 202, response.text
                invoice_id = response.json()["invoice_id"]
                issued = await stack.wait_until_awaiting_payment(invoice_id, timeout=60)
                link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
                await stack.pay(link_id, issued["invoice"]["total_minor"])
                await stack.wait_for_status(invoice_id, "CLOSED")
                async with httpx.AsyncClient() as http:

                    async def closed_counted() -> str | None:
                        text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                        return text if CLOSED_GAUGE in text else None  # the gauges' next read

                    scraped = await stack.wait_for(closed_counted, timeout=10)
            finally:
                worker.terminate()  # SIGTERM: the worker drains and flushes its spans
                await asyncio.wait_for(worker.wait(), timeout=60)
        assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-3000:]

    assert "temporal_workflow_completed" in scraped
    assert 'invoiceflow_deliveries_total{activity_type="invoice.deliver"' in scraped
    assert CLOSED_GAUGE in scraped

    [request] = [
        s
        for s in exporter.get_finished_spans()
        if s.name == "POST /invoices" and s.kind == SpanKind.SERVER
    ]
    assert request.context is not None
    exported = b"".join(bodies)
    assert b"invoiceflow-worker" in exported
    for name in (b"RunWorkflow:Invoice", b"RunActivity:invoice.deliver", b"StartActivity:"):
        assert name in exported, name
    # the worker's spans are in the request's trace (OTLP carries the id as 16 bytes)
    assert request.context.trace_id.to_bytes(16, "big") in exported
    assert b"http.request.method" in exported or b"http.method" in exported  # provider calls
