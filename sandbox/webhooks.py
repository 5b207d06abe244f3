"""Outgoing payment webhooks: signed like Stripe's, retried on a provider's schedule, every
attempt logged.

Deliveries run as asyncio tasks owned by the dispatcher rather than as response background
tasks, so a slow or dead receiver never holds a provider response (or server shutdown)
hostage. An unacknowledged event is retried on `SandboxSettings.webhook_retry_schedule_s`
(a real provider's: from a minute to a day apart, for ~3 days), scaled by
`webhook_time_scale` for tests. Each delivery still to make (event, next attempt, when) is a
row of the state file, written with the event itself: a sandbox stopped or killed
resumes them when it starts again with the same ``data_dir`` (the attempt in flight at the
stop is made again; receivers dedupe on the event id). Events are stored with the payment
that caused them, so they can be redelivered (``POST /_sandbox/webhooks/{id}/redeliver``),
which is how tests prove our webhook handler tolerates duplicates.
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
from sandbox.faults import FaultBook
from sandbox.settings import SandboxSettings
from sandbox.state import CallRecord, SandboxStore, Tx, utcnow

log = structlog.get_logger()

EVENT_KIND = "webhook_event"
SIGNATURE_HEADER = "Sandbox-Signature"


def new_event(
    tx: Tx, event_type: str, data: dict[str, Any], reference: str | None
) -> dict[str, Any]:
    """Create and store an event, due for delivery now, inside the transaction of the
    effect that caused it: a crash right after the commit still delivers it on restart."""
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    event = {"id": event_id, "type": event_type, "created": int(time.time()), "data": data}
    tx.insert(EVENT_KIND, event_id, reference, event)
    tx.put_pending_webhook(event_id, 1, time.time())
    return event


class WebhookDispatcher:
    def __init__(
        self, settings: SandboxSettings, store: SandboxStore, faults: FaultBook | None = None
    ) -> None:
        self._settings = settings
        self._store = store
        self._faults = faults or FaultBook()
        self._client: httpx.AsyncClient | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Open the HTTP client and resume the deliveries a previous run left pending."""
        self._client = provider_client(self._settings.webhook_timeout_s)
        resumed = 0
        for event_id, attempt, due_at in self._store.pending_webhooks():
            event = self._store.record(EVENT_KIND, event_id)
            if event is None:
                self._store.drop_pending_webhook(event_id)
                continue
            self._spawn(event, attempt, due_at)
            resumed += 1
        if resumed:
            log.info("sandbox.webhooks_resumed", pending=resumed)

    async def cancel_pending(self) -> None:
        """Stop the delivery tasks (shutdown, or a reset between tests). What they had
        still to do stays in the state file, unless a reset clears it."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        await self.cancel_pending()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def schedule(self, event: dict[str, Any]) -> None:
        """Deliver `event` from its first attempt, now (a new event, or a redelivery)."""
        now = time.time()
        self._store.put_pending_webhook(event["id"], 1, now)
        self._spawn(event, 1, now)

    def _spawn(self, event: dict[str, Any], attempt: int, due_at: float) -> None:
        event_id = event["id"]
        earlier = self._tasks.pop(event_id, None)
        if earlier is not None:  # a redelivery restarts the schedule
            earlier.cancel()
        task = asyncio.get_running_loop().create_task(self._deliver(event, attempt, due_at))
        self._tasks[event_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tasks.get(event_id) is done:
                del self._tasks[event_id]

        task.add_done_callback(forget)

    async def _deliver(self, event: dict[str, Any], attempt: int, due_at: float) -> None:
        settings = self._settings
        body = json.dumps(event, separators=(",", ":")).encode()
        while True:
            await asyncio.sleep(max(0.0, due_at - time.time()))
            if self._faults.drops_webhooks("payments"):
                self._give_up(event, attempt)
                return
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
                    note=f"attempt {attempt}/{settings.webhook_attempts}"
                    + (f": {error}" if error else ""),
                )
            )
            if 200 <= status < 300:
                self._store.drop_pending_webhook(event["id"])
                log.info("sandbox.webhook_delivered", event_id=event["id"], attempt=attempt)
                return
            if attempt >= settings.webhook_attempts:
                self._store.drop_pending_webhook(event["id"])
                log.error("sandbox.webhook_abandoned", event_id=event["id"], attempts=attempt)
                return
            due_at = time.time() + settings.webhook_retry_delay_s(attempt)
            attempt += 1
            self._store.put_pending_webhook(event["id"], attempt, due_at)
            log.warning(
                "sandbox.webhook_failed",
                event_id=event["id"],
                attempt=attempt - 1,
                status=status,
                error=error,
                retry_in_s=round(due_at - time.time(), 3),
            )

    def _give_up(self, event: dict[str, Any], attempt: int) -> None:
        """The fault `drop_webhooks`: the event never reaches the receiver, as one whose
        retries all failed; only a look-up at the provider finds its payment."""
        self._store.drop_pending_webhook(event["id"])
        self._store.record_call(
            CallRecord(
                api="webhooks",
                method="POST",
                path=self._settings.webhook_url,
                idempotency_key=event["id"],
                request_body=event,
                status=0,
                response_body=None,
                at=utcnow(),
                replayed=False,
                effect=False,
                note=f"attempt {attempt}/{self._settings.webhook_attempts}: dropped",
            )
        )
        log.warning("sandbox.webhook_dropped", event_id=event["id"], attempt=attempt)

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
