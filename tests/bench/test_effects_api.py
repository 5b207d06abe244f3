"""The effects floor's bare endpoints: a webhook is signalled only when its signature holds,
and a start carries the invoice's search attributes to the effects task queue."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient

from bench.effects_api import SIGNATURE_HEADER, create_app
from bench.effects_floor import EFFECTS_TASK_QUEUE, accounting_invoice, bench_invoice
from core.settings import get_settings
from integrations.webhook_signing import sign


class FakeHandle:
    def __init__(self, calls: list[tuple[str, Any]], workflow_id: str) -> None:
        self._calls = calls
        self._id = workflow_id

    async def signal(self, name: str) -> None:
        self._calls.append(("signal", (self._id, name)))


class FakeTemporal:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self.calls, workflow_id)

    async def start_workflow(self, workflow: str, arg: object, **options: Any) -> None:
        self.calls.append(("start", (workflow, arg, options)))


def bare_app() -> tuple[TestClient, FakeTemporal]:
    app = create_app()
    temporal = FakeTemporal()
    app.state.temporal = temporal
    return TestClient(app), temporal  # not entered: the lifespan's connect does not run


def payment_event(reference: str) -> bytes:
    event = {
        "id": "evt_1",
        "type": "payment.succeeded",
        "created": int(time.time()),
        "data": {"reference": reference, "amount_minor": 36000},
    }
    return json.dumps(event).encode()


def test_a_signed_webhook_signals_the_workflow_its_reference_names() -> None:
    http, temporal = bare_app()
    body = payment_event("effects-abc-7")
    secret = get_settings().payments_webhook_secret.get_secret_value()

    response = http.post(
        "/webhooks/payments",
        content=body,
        headers={SIGNATURE_HEADER: sign(secret, body, int(time.time()))},
    )

    assert response.status_code == 200
    assert temporal.calls == [("signal", ("effects-abc-7", "payment_received"))]


def test_a_wrongly_signed_webhook_is_refused_and_signals_nothing() -> None:
    http, temporal = bare_app()
    body = payment_event("effects-abc-7")

    wrong = http.post(
        "/webhooks/payments",
        content=body,
        headers={SIGNATURE_HEADER: sign("not-the-secret", body, int(time.time()))},
    )
    unsigned = http.post("/webhooks/payments", content=body)

    assert (wrong.status_code, unsigned.status_code) == (401, 401)
    assert temporal.calls == []


def test_a_start_is_the_floor_workflow_with_an_invoices_search_attributes() -> None:
    http, temporal = bare_app()

    response = http.post("/start", json={"workflow_id": "effects-abc-1"})

    assert response.json() == {"workflow_id": "effects-abc-1"}
    [(kind, (workflow, searchable, options))] = temporal.calls
    assert (kind, workflow, searchable) == ("start", "BenchFloor", True)
    assert options["id"] == "effects-abc-1"
    assert options["task_queue"] == EFFECTS_TASK_QUEUE
    assert options["search_attributes"] is not None


def test_the_accounting_post_is_an_invoices_of_the_benchmarks_amount() -> None:
    payload = accounting_invoice(bench_invoice("effects-abc-1"))

    assert payload.reference == "effects-abc-1"
    assert (payload.subtotal_minor, payload.tax_minor, payload.total_minor) == (30000, 6000, 36000)
    assert sum(line.net_minor for line in payload.lines) == payload.subtotal_minor
