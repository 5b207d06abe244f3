"""Outgoing webhooks' side effects: fan the audit trail out into deliveries (and start
their workflows), POST one signed attempt, and record how a series ended.

`send` is one attempt; Temporal's retry policy (in `workflows.webhook_delivery`) is the
schedule. What the receiver answered decides how it fails: a 410 is non-retryable and
turns the endpoint off, a 429/503 with ``Retry-After`` asks Temporal for exactly that
delay (``next_retry_delay``), anything else but a 2xx retries on the backoff.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from standardwebhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.webhook_starts import start_delivery
from domain.webhooks import outcome_of, retry_after
from schemas.webhooks import (
    SEND_ACTIVITY,
    FanOutInput,
    FanOutResult,
    FinishInput,
    SendInput,
    SendResult,
)
from store import webhook_outbox, webhooks
from store.db import SessionFactory, transaction

log = structlog.get_logger()

USER_AGENT = "InvoiceFlow-Webhooks/1"
_ERROR_LIMIT = 300


class EndpointGone(Exception):
    """The endpoint is off (deleted, or it answered 410): this series stops."""


class WebhookActivities:
    def __init__(self, sessions: SessionFactory, http: httpx.AsyncClient) -> None:
        self._sessions = sessions
        self._http = http

    @activity.defn(name="webhooks.fan_out")
    async def fan_out(self, data: FanOutInput) -> FanOutResult:
        """New audit rows -> events -> deliveries (one transaction, with the cursor), then
        the workflows of deliveries not started yet. Idempotent: run twice, it writes and
        starts nothing more."""
        now = datetime.now(UTC)
        result = FanOutResult()
        async with transaction(self._sessions) as session:
            endpoints = await webhook_outbox.active_endpoints(session)
            for source in webhook_outbox.SOURCES:
                rows, full = await webhook_outbox.read_source(
                    session,
                    source,
                    batch=data.batch_size,
                    settle=timedelta(seconds=data.settle_s),
                    now=now,
                )
                events, deliveries = await webhook_outbox.fan_out(session, rows, endpoints, now)
                result.events += events
                result.deliveries += deliveries
                result.more = result.more or full
        async with transaction(self._sessions, writes=False) as session:
            pending = await webhook_outbox.unstarted(session, data.batch_size)
        client = activity.client()
        for delivery_id, series in pending:
            if await start_delivery(client, data.task_queue, delivery_id, series, data.schedule):
                result.started += 1
        if pending:
            async with transaction(self._sessions) as session:
                await webhook_outbox.mark_started(session, [d for d, _ in pending])
        return result

    @activity.defn(name=SEND_ACTIVITY)
    async def send(self, data: SendInput) -> SendResult:
        """One signed POST of the delivery's event, recorded whatever happens."""
        attempt = activity.info().attempt
        async with transaction(self._sessions, writes=False) as session:
            found = await webhooks.delivery_context(session, data.delivery_id)
        if found is None:
            raise ApplicationError(
                f"delivery {data.delivery_id} does not exist", non_retryable=True
            )
        delivery, event, endpoint = found
        if delivery.status == "delivered" and delivery.series == data.series:
            return SendResult(status_code=delivery.last_status_code or 200, attempt=attempt)
        if not endpoint.active:
            raise ApplicationError(
                f"endpoint {endpoint.id} is off ({endpoint.disabled_reason})",
                type=EndpointGone.__name__,
                non_retryable=True,
            )
        body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
        sent_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event.id,  # the same on every attempt and resend: dedupe on it
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(endpoint.secret).sign(event.id, sent_at, body),
        }
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        delay: timedelta | None = None
        try:
            response = await self._http.post(
                endpoint.url, content=body.encode(), headers=headers, timeout=data.timeout_s
            )
            status_code = response.status_code
            outcome = outcome_of(status_code)
            if outcome == "retry":
                delay = retry_after(response.headers.get("retry-after"), datetime.now(UTC))
                error = f"HTTP {status_code}: {response.text[:_ERROR_LIMIT]}"
        except httpx.HTTPError as failure:
            outcome = "error"
            error = f"{type(failure).__name__}: {failure}"[:_ERROR_LIMIT]
        duration_ms = int((time.monotonic() - started) * 1000)
        async with transaction(self._sessions) as session:
            await webhooks.record_attempt(
                session,
                data.delivery_id,
                series=data.series,
                attempt=attempt,
                at=sent_at,
                status_code=status_code,
                duration_ms=duration_ms,
                error=error,
                outcome=outcome,
                retry_after_s=delay.total_seconds() if delay is not None else None,
            )
            if outcome == "gone":
                await webhooks.disable_endpoint(session, endpoint.id, "gone")
        log.info(
            "webhook.attempt",
            delivery_id=data.delivery_id,
            event_id=event.id,
            endpoint_id=endpoint.id,
            attempt=attempt,
            status_code=status_code,
            outcome=outcome,
            duration_ms=duration_ms,
        )
        if outcome == "delivered":
            assert status_code is not None
            return SendResult(status_code=status_code, attempt=attempt)
        if outcome == "gone":
            raise ApplicationError(
                f"{endpoint.url} answered 410 Gone: endpoint {endpoint.id} turned off",
                type=EndpointGone.__name__,
                non_retryable=True,
            )
        raise ApplicationError(
            error or "no answer", type="WebhookNotAccepted", next_retry_delay=delay
        )

    @activity.defn(name="webhooks.finish")
    async def finish(self, data: FinishInput) -> None:
        """A series ended without a 2xx: record why (the attempts are recorded already)."""
        async with transaction(self._sessions) as session:
            await webhooks.finish(session, data.delivery_id, data.status, data.error)
        log.warning(
            "webhook.gave_up" if data.status == "failed" else "webhook.endpoint_off",
            delivery_id=data.delivery_id,
            error=data.error,
        )
