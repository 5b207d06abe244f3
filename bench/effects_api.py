"""The effects floor's bare HTTP endpoints: ``python -m bench.effects_api``.

``POST /start`` starts an effects-floor workflow with an invoice's search attributes and
summary, as ``POST /invoices`` starts an invoice, and does nothing else (no authentication,
no database, no domain logic). ``POST /webhooks/payments`` takes the provider's signed
webhook, verifies the signature on the raw body (``integrations.webhook_signing``) and
signals the workflow the payment's reference names. What the API does beyond these two
calls is InvoiceFlow's own cost.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from temporalio.common import WorkflowIDReusePolicy

from bench.effects_floor import EFFECTS_TASK_QUEUE
from core.settings import get_settings
from core.temporal import connect
from integrations.webhook_signing import InvalidSignature, verify
from schemas import search_attributes as sa

SIGNATURE_HEADER = "Sandbox-Signature"


def create_app() -> FastAPI:
    settings = get_settings()
    secret = settings.payments_webhook_secret.get_secret_value()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.temporal = await connect(settings)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/start")
    async def start(request: Request) -> dict[str, Any]:
        body = await request.json()
        workflow_id = str(body["workflow_id"])
        await request.app.state.temporal.start_workflow(
            "BenchFloor",
            True,
            id=workflow_id,
            task_queue=EFFECTS_TASK_QUEUE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary="Customer 0 · £360.00 · due 2026-12-24",
            search_attributes=sa.at_start(
                invoice_id=workflow_id,
                customer_id="cus_effects",
                amount_due_minor=36000,
                currency="GBP",
            ),
        )
        return {"workflow_id": workflow_id}

    @app.post("/webhooks/payments")
    async def payments_webhook(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            verify(secret, raw, request.headers.get(SIGNATURE_HEADER), int(time.time()))
        except InvalidSignature as bad:
            raise HTTPException(401, bad.reason) from bad
        event = json.loads(raw)
        if event["type"] != "payment.succeeded":
            return {"status": "ignored"}
        handle = request.app.state.temporal.get_workflow_handle(event["data"]["reference"])
        await handle.signal("payment_received")
        return {"status": "accepted", "event_id": event["id"]}

    return app


if __name__ == "__main__":
    import uvicorn

    port = int(os.environ["BENCH_EFFECTS_API_PORT"])
    uvicorn.run("bench.effects_api:create_app", factory=True, host="127.0.0.1", port=port)
