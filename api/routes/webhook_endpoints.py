"""Outgoing webhooks for upstream apps: subscribe an endpoint to invoice events, read what
was sent to it (every attempt), and send a delivery again.

The secret is made here (Standard Webhooks form, ``whsec_<base64>``) and answered once,
on creation; reads never show it. A DELETE turns an endpoint off rather than erasing it,
so its deliveries stay readable.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep, SettingsDep, TemporalClientDep
from api.errors import Conflict, NotFoundError, Unprocessable
from api.idempotency import Answer, idempotent
from api.openapi import problems
from core.webhook_starts import start_delivery
from domain.webhooks import ALL_EVENTS, EVENT_TYPES
from schemas.webhook_tables import WebhookEndpointRow
from schemas.webhooks import (
    ResendResult,
    RetrySchedule,
    WebhookAttemptOut,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointOut,
    WebhookEndpointPage,
    delivery_workflow_id,
)
from store import webhooks
from store.db import begin_write

router = APIRouter(tags=["webhook endpoints"])


def _out(row: WebhookEndpointRow) -> WebhookEndpointOut:
    return WebhookEndpointOut.model_validate(row, from_attributes=True)


def _check(body: WebhookEndpointCreate, environment: str) -> None:
    """422 for a URL we would not send to, or an event type that does not exist."""
    parts = urlsplit(body.url)
    schemes = {"https"} if environment == "production" else {"https", "http"}
    if parts.scheme not in schemes or not parts.hostname:
        raise Unprocessable(
            f"url must be an absolute {' or '.join(sorted(schemes))} URL, not {body.url!r}",
            code="invalid_webhook_url",
        )
    unknown = sorted(set(body.event_types) - {*EVENT_TYPES, ALL_EVENTS})
    if unknown:
        raise Unprocessable(
            f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)} or {ALL_EVENTS!r}",
            code="unknown_event_type",
        )


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=WebhookEndpointCreated,
    responses=problems(422),
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Subscribe `url` to `event_types`. The answer holds the endpoint's signing secret,
    shown this once: verify each delivery's `webhook-signature` with it."""
    _check(body, settings.environment)

    async def produce() -> Answer:
        await begin_write(session)
        row = await webhooks.create_endpoint(
            session,
            url=body.url,
            event_types=sorted(set(body.event_types)),
            description=body.description,
            created_by=api_key.name,
        )
        await session.commit()
        out = WebhookEndpointCreated(**_out(row).model_dump(), secret=row.secret)
        return Answer(201, out.model_dump(mode="json"), f"/webhook-endpoints/{row.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/webhook-endpoints", response_model=WebhookEndpointPage)
async def list_webhook_endpoints(session: SessionDep, _: ApiKeyDep) -> WebhookEndpointPage:
    """Every endpoint, newest first, turned-off ones included (`active`, `disabled_reason`)."""
    return WebhookEndpointPage(items=[_out(row) for row in await webhooks.list_endpoints(session)])


async def _endpoint(session: SessionDep, endpoint_id: str) -> WebhookEndpointRow:
    row = await session.get(WebhookEndpointRow, endpoint_id)
    if row is None:
        raise NotFoundError(f"webhook endpoint {endpoint_id} does not exist")
    return row


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpointOut,
    responses=problems(404),
)
async def get_webhook_endpoint(
    endpoint_id: str, session: SessionDep, _: ApiKeyDep
) -> WebhookEndpointOut:
    return _out(await _endpoint(session, endpoint_id))


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204, responses=problems(404))
async def disable_webhook_endpoint(endpoint_id: str, session: SessionDep, _: ApiKeyDep) -> Response:
    """Turn the endpoint off: nothing more is sent to it, retries in flight stop at their
    next attempt; its deliveries stay listed. Repeating it changes nothing."""
    await _endpoint(session, endpoint_id)
    await begin_write(session)
    await webhooks.disable_endpoint(session, endpoint_id, "deleted")
    await session.commit()
    return Response(status_code=204)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryPage,
    responses=problems(404),
)
async def list_webhook_deliveries(
    endpoint_id: str,
    session: SessionDep,
    _: ApiKeyDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> WebhookDeliveryPage:
    """What was sent to the endpoint, newest first: each delivery with its event and every
    attempt (status code, duration, error, when)."""
    await _endpoint(session, endpoint_id)
    rows, total = await webhooks.deliveries(session, endpoint_id, limit=limit, offset=offset)
    attempts = await webhooks.attempts_of(session, [delivery.id for delivery, _ in rows])
    items = [
        WebhookDeliveryOut(
            id=delivery.id,
            event_id=event.id,
            event_type=event.type,
            invoice_id=event.invoice_id,
            endpoint_id=delivery.endpoint_id,
            status=delivery.status,
            series=delivery.series,
            attempts=[
                WebhookAttemptOut.model_validate(a, from_attributes=True)
                for a in attempts[delivery.id]
            ],
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
            payload=event.payload,
        )
        for delivery, event in rows
    ]
    return WebhookDeliveryPage(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/webhook-deliveries/{delivery_id}/resend",
    status_code=202,
    response_model=ResendResult,
    responses=problems(404, 409, 503),
)
async def resend_webhook_delivery(
    delivery_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Send the delivery's event again, as a new attempt series with the same event id
    (`webhook-id`), so a receiver that has it already can tell. Refused (409) while a
    series is still retrying, or when the endpoint is off."""

    async def produce() -> Answer:
        await begin_write(session)
        found = await webhooks.delivery_context(session, delivery_id)
        if found is None:
            raise NotFoundError(f"webhook delivery {delivery_id} does not exist")
        delivery, event, endpoint = found
        if delivery.status == "pending":
            raise Conflict(
                f"delivery {delivery_id} is still being attempted", code="delivery_in_progress"
            )
        if not endpoint.active:
            raise Conflict(f"webhook endpoint {endpoint.id} is off", code="endpoint_disabled")
        resent = await webhooks.begin_resend(session, delivery_id)
        assert resent is not None
        await session.commit()
        await start_delivery(
            temporal, settings.task_queue, delivery_id, resent.series, RetrySchedule()
        )
        out = ResendResult(
            delivery_id=delivery_id,
            event_id=event.id,
            series=resent.series,
            workflow_id=delivery_workflow_id(delivery_id, resent.series),
        )
        return Answer(202, out.model_dump(mode="json"))

    return await idempotent(session, request, api_key, idempotency_key, {}, produce)
