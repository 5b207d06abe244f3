"""``python -m worker``: run the InvoiceFlow worker until SIGINT/SIGTERM, then drain and stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from core import eventloop
from core.logging import configure_logging
from core.metrics import poll_gauges, worker_runtime
from core.settings import get_settings
from core.temporal import connect
from core.tracing import configure_tracing, instrument_http, shutdown_tracing
from core.webhook_starts import ensure_dispatcher
from integrations.email import EmailSender
from integrations.http import provider_client
from rendering.pdf import print_in_processes
from schemas.webhooks import DispatcherInput
from store.db import create_engine, session_factory
from worker.build import build_worker, smtp_settings

log = structlog.get_logger()


async def main() -> None:
    settings = get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)
    tracing = configure_tracing(settings, "worker")
    engine = create_engine(settings.database_url)
    runtime = worker_runtime(settings)
    client = await connect(settings, runtime=runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with (
        provider_client(settings.provider_timeout_s) as http,
        EmailSender(smtp_settings(settings)) as email,
    ):
        if tracing is not None:
            instrument_http(http, tracing)
        sessions = session_factory(engine)
        worker = build_worker(client, settings, sessions, http, email)
        printing = print_in_processes(settings.pdf_processes)
        gauges = (
            asyncio.create_task(
                poll_gauges(runtime.metric_meter, sessions, settings.metrics_poll_interval_s)
            )
            if runtime is not None and settings.metrics_poll_interval_s > 0
            else None
        )
        async with worker:
            eventloop.freeze_startup_objects()
            await ensure_dispatcher(client, DispatcherInput(task_queue=settings.task_queue))
            log.info(
                "worker.started",
                task_queue=settings.task_queue,
                temporal=settings.temporal_address,
                metrics=f"http://{settings.effective_worker_metrics_address}/metrics"
                if runtime is not None
                else None,
                tracing=settings.otel_exporter_otlp_endpoint,
            )
            await stop.wait()
            log.info("worker.stopping")
            if gauges is not None:
                gauges.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gauges
        if printing is not None:
            printing.shutdown(cancel_futures=True)
    await engine.dispose()
    shutdown_tracing(tracing)
    log.info("worker.stopped")


if __name__ == "__main__":
    eventloop.run(main())
