"""``python -m worker``: run the InvoiceFlow worker until SIGINT/SIGTERM, then drain and stop."""

from __future__ import annotations

import asyncio
import signal

import structlog

from core import eventloop
from core.logging import configure_logging
from core.settings import get_settings
from core.temporal import connect
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
    engine = create_engine(settings.database_url)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with (
        provider_client(settings.provider_timeout_s) as http,
        EmailSender(smtp_settings(settings)) as email,
    ):
        worker = build_worker(client, settings, session_factory(engine), http, email)
        printing = print_in_processes(settings.pdf_processes)
        async with worker:
            eventloop.freeze_startup_objects()
            await ensure_dispatcher(client, DispatcherInput(task_queue=settings.task_queue))
            log.info(
                "worker.started", task_queue=settings.task_queue, temporal=settings.temporal_address
            )
            await stop.wait()
            log.info("worker.stopping")
        if printing is not None:
            printing.shutdown(cancel_futures=True)
    await engine.dispose()
    log.info("worker.stopped")


if __name__ == "__main__":
    eventloop.run(main())
