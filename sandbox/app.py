"""The sandbox's HTTP side as a FastAPI app: provider APIs, mailbox, payment pages, control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sandbox import control, mailbox_routes, pages, receiver
from sandbox.context import SandboxContext
from sandbox.faults import FaultBook
from sandbox.gate import Gate
from sandbox.providers import accounting, oidc, operations, payments, refunds, sms
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxStore
from sandbox.webhooks import WebhookDispatcher


def create_app(
    settings: SandboxSettings, store: SandboxStore | None = None, faults: FaultBook | None = None
) -> FastAPI:
    """Build the app. Pass `store` and `faults` to share them with the SMTP server; else the
    app owns its own."""
    owns_store = store is None
    store = store if store is not None else SandboxStore(settings.data_dir)
    faults = faults if faults is not None else FaultBook()
    context = SandboxContext(
        settings=settings,
        store=store,
        faults=faults,
        gate=Gate(settings, store, faults),
        webhooks=WebhookDispatcher(settings, store, faults),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await context.webhooks.start()
        try:
            yield
        finally:
            await context.webhooks.aclose()
            if owns_store:
                store.close()

    app = FastAPI(
        title="InvoiceFlow provider sandbox",
        description="Local stand-ins for the SMS, payment and accounting providers and an"
        " OpenID Connect provider, plus a mail catcher. Provider APIs need"
        " `Authorization: Bearer <SANDBOX_API_KEY>` (the OpenID Connect provider: its client"
        " id and secret).",
        lifespan=lifespan,
    )
    app.state.sandbox = context
    routers = (
        *(sms, payments, refunds, operations, accounting, oidc),
        *(mailbox_routes, control, receiver),
    )
    for module in (*routers, pages):
        app.include_router(module.router)
    return app
