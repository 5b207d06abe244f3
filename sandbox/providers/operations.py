"""The payment provider's look-ups, for a caller that does not know what its last call did.

A call that timed out or whose answer was lost may or may not have happened. Retrying it
with the same Idempotency-Key is safe only while the provider still remembers the key
(real providers forget them: Stripe after 24 hours), so a careful client first asks:

- ``GET /payments/v1/operations?idempotency_key=K``: the operation made with key K (the
  resource it created, as it is now), or 404 if the provider never performed one;
- ``GET /payments/v1/payments?reference=R``: every payment taken for our reference (an
  invoice id), oldest first: how a payment whose webhook never arrived is found.

Both are reads through the gate (bearer auth, injected outages and latency, the call log).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from sandbox.context import SandboxContext, SandboxDep
from sandbox.gate import ProviderReject
from sandbox.providers.payments import API, LINK, PAYMENT
from sandbox.providers.refunds import REFUND

router = APIRouter(prefix="/payments/v1", tags=["payments"])

# what a stored response's `id` names, by its prefix
_OBJECTS = {"plink": (LINK, "payment_link"), "pay": (PAYMENT, "payment"), "re": (REFUND, "refund")}


def find_operation(sandbox: SandboxContext, idempotency_key: str) -> dict[str, Any]:
    with sandbox.store.transaction() as tx:
        stored = tx.get_idempotent(API, idempotency_key)
        if stored is None or not isinstance(stored.body, dict):
            raise ProviderReject(404, f"No operation with Idempotency-Key {idempotency_key}")
        resource_id = str(stored.body.get("id", ""))
        kind, name = _OBJECTS.get(resource_id.split("_", 1)[0], (None, "unknown"))
        current = tx.get(kind, resource_id) if kind is not None else None
    return {
        "idempotency_key": idempotency_key,
        "status": "succeeded",
        "object": name,
        # the resource as it is now (a link's payments since), else as it was answered
        "resource": current if current is not None else stored.body,
    }


@router.get("/operations")
async def get_operation(
    request: Request,
    sandbox: SandboxDep,
    idempotency_key: Annotated[str, Query(min_length=1, max_length=500)],
) -> JSONResponse:
    """The operation made with this Idempotency-Key: `{"idempotency_key", "status",
    "object": "payment_link" | "payment" | "refund", "resource"}`; 404 when none was."""
    return await sandbox.gate.get(request, API, lambda: find_operation(sandbox, idempotency_key))


@router.get("/payments")
async def list_payments(
    request: Request,
    sandbox: SandboxDep,
    reference: Annotated[str, Query(min_length=1, max_length=200)],
) -> JSONResponse:
    """The payments taken for `reference` (through any of its links), oldest first."""
    return await sandbox.gate.get(request, API, lambda: sandbox.store.records(PAYMENT, reference))
