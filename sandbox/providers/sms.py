"""The SMS provider: accepts messages to E.164 numbers and "queues" them (nothing is sent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StringConstraints

from sandbox.context import SandboxDep
from sandbox.gate import Effect
from sandbox.providers import new_id
from sandbox.state import Tx

API = "sms"
KIND = "sms_message"

router = APIRouter(prefix="/sms/v1", tags=["sms"])

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{1,14}$")]


class SmsCreate(BaseModel):
    to: E164
    body: Annotated[str, StringConstraints(min_length=1, max_length=1600)]
    reference: str | None = None


def create_message(tx: Tx, req: SmsCreate) -> Effect:
    message_id = new_id("sms")
    message = {
        "id": message_id,
        "status": "queued",
        "to": req.to,
        "body": req.body,
        "reference": req.reference,
    }
    tx.insert(KIND, message_id, req.reference, message)
    return Effect(201, message)


@router.post("/messages", status_code=201)
async def post_message(request: Request, sandbox: SandboxDep) -> JSONResponse:
    """Body: {"to": "+447700900123", "body": "...", "reference": "INV-1"}."""
    return await sandbox.gate.post(request, API, SmsCreate, create_message)


@router.get("/messages")
async def list_messages(
    request: Request, sandbox: SandboxDep, reference: str | None = None
) -> JSONResponse:
    return await sandbox.gate.get(request, API, lambda: sandbox.store.records(KIND, reference))
