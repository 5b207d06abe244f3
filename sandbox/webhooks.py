"""Outgoing payment webhooks: signed like Stripe's, retried with backoff, every attempt logged.

Deliveries run as asyncio tasks owned by the dispatcher rather than as response background
tasks, so a slow or dead receiver never holds a provider response (or server shutdown)
hostage. Events are stored with the payment that caused them, so they can be redelivered
(``POST /_sandbox/webhooks/{id}/redeliver``), which is how tests prove our webhook handler
tolerates duplicates. Pending retries are dropped when the sandbox stops.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import structlog

from integrations.http import provider_client
from integrations.webhook_signing import sign
from sandbox.settings import SandboxSettings
from sandbox.state import CallRecord, SandboxStore, Tx, utcnow

log = structlog.get_logger()

EVENT_KIND = "webhook_event"
SIGNATURE_HEADER = "Sandbox-Signature"


def new_event(
    tx: Tx, event_type: str, data: dict[str, Any], reference: str | None
) -> dict[str, Any]:
    """Create and store an event inside the transaction of the effect that caused it."""
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    event = {"id": event_id, "type": event_type, "created": int(time.time()), "data": data}
    tx.insert(EVENT_KIND, event_id, reference, event)
    return event


class WebhookDispatcher:
    def __init__(self, settings: SandboxSettings, store: SandboxStore) -> None:
        self._settings = settings
        self._store = store
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._client = provider_client(self._settings.webhook_timeout_s)

    async def cancel_pending(self) -> None:
        """Drop deliveries in flight (shutdown, or a reset between tests)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        await self.cancel_pending()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def schedule(self, event: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: dict[str, Any]) -> None:
        settings = self._settings
        body = json.dumps(event, separators=(",", ":")).encode()
        for attempt in range(1, settings.webhook_max_attempts + 1):
            if attempt > 1:
                await asyncio.sleep(settings.webhook_retry_base_s * 2 ** (attempt - 2))
            status, response, error = await self._post(body)
            self._store.record_call(
                CallRecord(
                    api="webhooks",
                    method="POST",
                    path=settings.webhook_url,
                    idempotency_key=event["id"],
                    request_body=event,
                    status=status,
                    response_body=response,
                    at=utcnow(),
                    replayed=False,
                    effect=False,
                    note=f"attempt {attempt}/{settings.webhook_max_attempts}"
                    + (f": {error}" if error else ""),
                )
            )
            if 200 <= status < 300:
                log.info("sandbox.webhook_delivered", event_id=event["id"], attempt=attempt)
                return
            log.warning(
                "sandbox.webhook_failed",
                event_id=event["id"],
                attempt=attempt,
                status=status,
                error=error,
            )
        log.error("sandbox.webhook_abandoned", event_id=event["id"])

    async def _post(self, body: bytes) -> tuple[int, str | None, str | None]:
        """One attempt: (status or 0, response text, error)."""
        if self._client is None:
            raise RuntimeError("WebhookDispatcher.start() was not awaited")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "invoiceflow-sandbox",
            SIGNATURE_HEADER: sign(self._settings.webhook_secret, body, int(time.time())),
        }
        try:
            response = await self._client.post(
                self._settings.webhook_url, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            return 0, None, f"{type(exc).__name__}: {exc}"
        return response.status_code, response.text[:2000], None
