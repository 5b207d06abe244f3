"""A webhook receiver (``/_sandbox/receiver/{name}``): stands in for an upstream app that
subscribed to InvoiceFlow's outgoing webhooks, for the tests and the dev stack.

It records every POST as it came (headers and the raw body, so a test can check the
Standard Webhooks signature over the exact bytes), and answers 200 unless told to answer
something else for its next N calls (500, 410, 429 with ``Retry-After``...). Kept in
memory: a receiver is for watching one run, not for keeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from sandbox.control import _require_loopback


class ScriptedAnswer(BaseModel):
    status: int = Field(ge=100, le=599)
    count: int = Field(default=1, ge=1, le=1000)  # for this many of the next calls
    retry_after: str | None = None  # sent as Retry-After


@dataclass
class Receiver:
    receptions: list[dict[str, Any]] = field(default_factory=list)
    script: list[ScriptedAnswer] = field(default_factory=list)

    def next_answer(self) -> ScriptedAnswer | None:
        while self.script:
            head = self.script[0]
            if head.count > 0:
                head.count -= 1
                return head
            self.script.pop(0)
        return None


class Receivers:
    def __init__(self) -> None:
        self._by_name: dict[str, Receiver] = {}

    def get(self, name: str) -> Receiver:
        return self._by_name.setdefault(name, Receiver())

    def drop(self, name: str) -> None:
        self._by_name.pop(name, None)


async def _receivers(request: Request) -> Receivers:
    state = request.app.state
    if not hasattr(state, "receivers"):
        state.receivers = Receivers()
    receivers: Receivers = state.receivers
    return receivers


ReceiversDep = Annotated[Receivers, Depends(_receivers)]

router = APIRouter(
    prefix="/_sandbox/receiver",
    tags=["webhook receiver"],
    dependencies=[Depends(_require_loopback)],
)


@router.post("/{name}")
async def receive(name: str, request: Request, receivers: ReceiversDep) -> Response:
    """Record the call; answer what was scripted for it, else 200."""
    receiver = receivers.get(name)
    answer = receiver.next_answer()
    status = answer.status if answer else 200
    receiver.receptions.append(
        {
            "at": datetime.now(UTC).isoformat(),
            "headers": dict(request.headers),
            "body": (await request.body()).decode(),
            "answered": status,
        }
    )
    headers = {"Retry-After": answer.retry_after} if answer and answer.retry_after else {}
    return JSONResponse({"received": status < 300}, status_code=status, headers=headers)


@router.get("/{name}")
async def receptions(name: str, receivers: ReceiversDep) -> list[dict[str, Any]]:
    """Every call received, oldest first."""
    return receivers.get(name).receptions


@router.post("/{name}/answers")
async def script_answers(
    name: str, answer: ScriptedAnswer, receivers: ReceiversDep
) -> dict[str, Any]:
    """Answer `status` (and `Retry-After`) to the next `count` calls, after any already
    scripted; then 200 again."""
    receiver = receivers.get(name)
    receiver.script.append(answer)
    return {"scripted": [a.model_dump() for a in receiver.script]}


@router.delete("/{name}", status_code=204)
async def forget(name: str, receivers: ReceiversDep) -> Response:
    receivers.drop(name)
    return Response(status_code=204)
