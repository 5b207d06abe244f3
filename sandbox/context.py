"""The objects one sandbox instance shares between its routes, and how routes get at them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from sandbox.faults import FaultBook
from sandbox.gate import Gate
from sandbox.oidc import OidcProvider
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxStore
from sandbox.waiters import RecordWaiters
from sandbox.webhooks import WebhookDispatcher


@dataclass
class SandboxContext:
    settings: SandboxSettings
    store: SandboxStore
    faults: FaultBook
    gate: Gate
    webhooks: WebhookDispatcher
    waiters: RecordWaiters = field(default_factory=RecordWaiters)
    oidc: OidcProvider = field(default_factory=OidcProvider)


async def get_context(request: Request) -> SandboxContext:
    """Async on purpose: FastAPI runs a plain-function dependency in its thread pool, a
    thread hop per request that profiled at about a tenth of the sandbox's CPU."""
    context: SandboxContext = request.app.state.sandbox
    return context


SandboxDep = Annotated[SandboxContext, Depends(get_context)]
