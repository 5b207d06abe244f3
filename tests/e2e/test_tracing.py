"""One invoice, created over the API and run to CLOSED, is one connected trace: the API's
request span -> StartWorkflow -> RunWorkflow -> StartActivity -> RunActivity -> the
provider's HTTP call, every span with the trace id of the request that created it and a
parent in the trace; the payment webhook's own trace is linked from HandleSignal."""

from __future__ import annotations

from collections import Counter
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client

from core.tracing import temporal_interceptors
from schemas.ids import invoice_workflow_id
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import running_stack

LINK_TOKEN = "eyJ0YXNr.Z2Nlc3M.sEcReTtOkEn"
WORKER_SIDE = {"RunWorkflow", "StartActivity", "RunActivity", "HandleSignal", "CompleteWorkflow"}


def traced_client(temporal: Client, provider: TracerProvider) -> Client:
    """The session's client with the tracing interceptor (as core.temporal gives every
    client when tracing is on); the worker built on it inherits the interceptor."""
    config: Any = {**temporal.config(), "interceptors": temporal_interceptors(provider)}
    return Client(**config)


def http_method(span: ReadableSpan) -> object:
    attributes = span.attributes or {}
    return attributes.get("http.request.method", attributes.get("http.method"))


async def test_an_invoice_from_the_api_to_closed_is_one_connected_trace(
    temporal: Client, sqlite_url: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = traced_client(temporal, provider)
    async with running_stack(client, sqlite_url, tracer_provider=provider) as stack:
        customer, contract = await customer_and_contract(stack, email="ap@traced.test")
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "2"}],
            },
        )
        assert response.status_code == 202, response.text
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, issued["invoice"]["total_minor"])
        await stack.wait_for_status(invoice_id, "CLOSED")
        await stack.api.get(f"/approvals/{LINK_TOKEN}")
        await stack.api.get(f"/portal/invoices/{invoice_id}?token={LINK_TOKEN}")
    provider.force_flush()
    spans = exporter.get_finished_spans()

    # the request that created the invoice is the trace's root
    [request] = [s for s in spans if s.name == "POST /invoices" and s.kind == SpanKind.SERVER]
    assert request.parent is None and request.context is not None
    trace_id = request.context.trace_id
    in_trace = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    ids = {s.context.span_id for s in in_trace if s.context is not None}
    # connected: every span but the root has its parent in the same trace
    orphans = [
        s.name
        for s in in_trace
        if s is not request and (s.parent is None or s.parent.span_id not in ids)
    ]
    assert orphans == []

    by_name = {s.name: s for s in in_trace}
    start = by_name["StartWorkflow:Invoice"]
    run = by_name["RunWorkflow:Invoice"]
    assert start.parent is not None and start.parent.span_id in {
        s.context.span_id for s in in_trace if s.kind == SpanKind.SERVER and s.context
    }
    assert run.parent is not None and run.parent.span_id == start.context.span_id  # type: ignore[union-attr]
    assert (run.attributes or {})["temporalWorkflowID"] == invoice_workflow_id(invoice_id)

    # every span the worker made for this invoice is in this trace, none elsewhere (a
    # query's and a signal's client spans belong to the requests that sent them)
    workflow_id = invoice_workflow_id(invoice_id)
    elsewhere = [
        s.name
        for s in spans
        if (s.attributes or {}).get("temporalWorkflowID") == workflow_id
        and s.name.split(":")[0] in WORKER_SIDE
        and s not in in_trace
    ]
    assert elsewhere == []

    activities = Counter(s.name for s in in_trace if s.name.startswith("RunActivity:"))
    for expected in ("invoice.deliver", "accounting.post_invoice", "accounting.post_payment"):
        assert activities[f"RunActivity:{expected}"] >= 1, activities
    starts = {
        s.context.span_id: s for s in in_trace if s.name.startswith("StartActivity:") and s.context
    }
    for span in in_trace:
        if span.name.startswith("RunActivity:"):
            assert span.parent is not None and span.parent.span_id in starts, span.name

    # the provider calls: HTTP client spans, each a child of the activity that made it
    runs = {
        s.context.span_id: s for s in in_trace if s.name.startswith("RunActivity:") and s.context
    }
    calls = [s for s in in_trace if s.kind == SpanKind.CLIENT and http_method(s) is not None]
    assert len(calls) >= 3, [s.name for s in in_trace]  # payment link, ledger invoice, payment
    for call in calls:
        assert call.parent is not None and call.parent.span_id in runs, call.name
    posted_by = {runs[c.parent.span_id].name for c in calls if c.parent is not None}
    assert {"RunActivity:invoice.deliver", "RunActivity:accounting.post_invoice"} <= posted_by

    # the payment came in by webhook: its own trace, linked from the workflow's signal span
    signals = [s for s in in_trace if s.name.startswith("HandleSignal:")]
    assert signals, [s.name for s in in_trace]
    linked = {link.context.trace_id for s in signals for link in s.links}
    webhook = [s for s in spans if s.name == "POST /webhooks/payments" and s.context is not None]
    assert webhook and any(s.context.trace_id in linked for s in webhook if s.context)

    # link tokens in request paths stay out of every exported attribute
    pages = [
        s
        for s in spans
        if s.name in ("GET /approvals/{token}", "GET /portal/invoices/{invoice_id}")
    ]
    assert len(pages) == 2, sorted({s.name for s in spans})
    exported = [str(v) for s in spans for v in (s.attributes or {}).values()]
    assert not [v for v in exported if "sEcReTtOkEn" in v]
    assert any("/approvals/[redacted]" in v for v in exported)
