"""A stack with the webhook dispatcher running on a fast schedule, and the sandbox's
receiver as the upstream app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from core.webhook_starts import ensure_dispatcher
from schemas.webhook_tables import WebhookCursorRow
from schemas.webhooks import DispatcherInput, RetrySchedule, dispatcher_workflow_id
from tests.support.stack import Stack, running_stack

# the real schedule's shape, 100 times faster: 0.3 s, 0.6 s, ... at most 3 s apart
FAST = RetrySchedule(
    initial_interval_s=0.3,
    backoff_coefficient=2.0,
    maximum_interval_s=3.0,
    give_up_after_s=120.0,
    attempt_timeout_s=5.0,
)


@contextlib.asynccontextmanager
async def webhook_stack(temporal: Client, database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(temporal, database_url) as stack:
        queue = stack.settings.task_queue
        data = DispatcherInput(task_queue=queue, poll_every_s=0.2, schedule=FAST)
        assert await ensure_dispatcher(temporal, data)
        assert not await ensure_dispatcher(temporal, data)  # one per task queue
        try:

            async def cursors() -> bool:
                async with stack.sessions() as session:
                    return await session.get(WebhookCursorRow, "audit_events") is not None

            await stack.wait_for(cursors)  # it has read the trail's end: from here, all
            yield stack
        finally:
            with contextlib.suppress(RPCError):
                await temporal.get_workflow_handle(dispatcher_workflow_id(queue)).terminate()


async def subscribe(stack: Stack, name: str, event_types: list[str]) -> dict[str, Any]:
    response = await stack.api.post(
        "/webhook-endpoints",
        json={
            "url": f"{stack.sandbox.base_url}/_sandbox/receiver/{name}",
            "event_types": event_types,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def script(
    stack: Stack, name: str, status: int, count: int, retry_after: str | None = None
) -> None:
    response = await stack.sandbox.post(
        f"/_sandbox/receiver/{name}/answers",
        json={"status": status, "count": count, "retry_after": retry_after},
    )
    assert response.status_code == 200, response.text


async def received(stack: Stack, name: str) -> list[dict[str, Any]]:
    response = await stack.sandbox.get(f"/_sandbox/receiver/{name}")
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


async def deliveries(stack: Stack, endpoint_id: str) -> list[dict[str, Any]]:
    response = await stack.api.get(f"/webhook-endpoints/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]
