"""The FastAPI application factory; ``api.app:app`` is what uvicorn serves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog
from fastapi import FastAPI
from opentelemetry.trace import TracerProvider
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import temporal_client
from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.openapi import TAGS, install_openapi
from api.ops_web import install_ops_handlers
from api.routes import (
    accounting_sync,
    approval_config,
    approvals,
    billing,
    codec,
    credit_refunds,
    dispute_actions,
    disputes,
    documents,
    exception_review,
    exceptions,
    exports,
    invoice_actions,
    invoices,
    ops_auth,
    ops_cases,
    ops_oidc,
    ops_pages,
    parties,
    portal,
    purchase_orders,
    reminder_holds,
    webhook_endpoints,
    webhooks,
)
from core import eventloop
from core.logging import configure_logging, install_token_redaction
from core.settings import Settings, get_settings
from core.tracing import configure_tracing, instrument_app
from store.db import create_engine, session_factory
from store.parties import PartiesCache

log = structlog.get_logger()


def create_app(
    settings: Settings | None = None,
    temporal: Client | None = None,
    *,
    freeze_gc: bool = False,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """`freeze_gc`: only for the process that serves this app (``python -m api``), see
    `core.eventloop.freeze_startup_objects`. `tracer_provider`: trace requests with it
    (tests); otherwise requests are traced only when tracing is configured."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.sessions = session_factory(engine)
        app.state.parties = PartiesCache()
        app.state.temporal = temporal
        app.state.temporal_lock = asyncio.Lock()
        app.state.temporal_retry_at = 0.0
        # Temporal down at startup: the API serves what needs only the database, answers
        # 503 for the rest, and connects on a later request (api.deps.temporal_client)
        await temporal_client(app)
        log.info("api.started", database=engine.dialect.name)
        if freeze_gc:
            eventloop.freeze_startup_objects()
        yield
        await engine.dispose()

    app = FastAPI(
        title="InvoiceFlow",
        version="0.1.0",
        description="Invoice processes as durable Temporal workflows. Every call of an"
        " upstream app sends its API key (`Authorization: Bearer <key>` or `X-API-Key`);"
        " every error is `application/problem+json` with a stable `code`.",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_openapi
        redoc_url=None,
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    install_token_redaction()  # uvicorn's access log sees link tokens in paths
    install_error_handlers(app)
    install_openapi(app)
    install_metrics(
        app, settings.metrics_token.get_secret_value() if settings.metrics_token else None
    )
    if tracer_provider is not None or settings.tracing_enabled:
        instrument_app(app, tracer_provider)
    app.include_router(parties.router)
    app.include_router(credit_refunds.router)
    app.include_router(purchase_orders.router)
    app.include_router(invoices.router)
    app.include_router(invoice_actions.router)
    app.include_router(reminder_holds.router)
    app.include_router(accounting_sync.router)
    app.include_router(billing.router)
    app.include_router(webhooks.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(portal.router)
    app.include_router(approval_config.router)
    app.include_router(approvals.router)
    app.include_router(exceptions.router)
    app.include_router(exception_review.router)
    app.include_router(dispute_actions.router)
    app.include_router(disputes.router)
    app.include_router(exports.router)
    app.include_router(documents.router)
    app.include_router(codec.router)
    # the ops dashboards: operators sign in (a session cookie; API keys open nothing there)
    install_ops_handlers(app)
    app.include_router(ops_auth.router)
    if settings.ops_oidc_enabled:  # else its paths do not exist: the password form alone
        app.include_router(ops_oidc.router)
    app.include_router(ops_pages.router)
    app.include_router(ops_cases.router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, object]:
        """Liveness (200 while the process serves), and whether Temporal answers now."""
        client = await temporal_client(app)
        reachable = False
        if client is not None:
            try:
                reachable = await client.service_client.check_health(timeout=timedelta(seconds=2))
            except RPCError:
                reachable = False
        return {"status": "ok" if reachable else "degraded", "temporal": reachable}

    return app


def app() -> FastAPI:
    """uvicorn factory: ``uvicorn --factory api.app:app``."""
    settings = get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)
    configure_tracing(settings, "api")
    return create_app(settings, freeze_gc=True)
