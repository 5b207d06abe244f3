"""Start the webhook workflows through a Temporal client (the worker, the API, the
fan-out activity, the tests): the dispatcher once per task queue, a delivery series once
per (delivery, series). Both ids are deterministic, so a repeated start starts nothing.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from schemas.webhooks import (
    WEBHOOK_DELIVERY_WORKFLOW,
    WEBHOOK_DISPATCHER_WORKFLOW,
    DeliveryInput,
    DispatcherInput,
    RetrySchedule,
    delivery_workflow_id,
    dispatcher_workflow_id,
)


async def ensure_dispatcher(client: Client, data: DispatcherInput) -> bool:
    """Start the task queue's dispatcher unless it runs; True if this call started it.
    Every worker calls it at startup: N workers, one dispatcher."""
    try:
        await client.start_workflow(
            WEBHOOK_DISPATCHER_WORKFLOW,
            data,
            id=dispatcher_workflow_id(data.task_queue),
            task_queue=data.task_queue,
            # a dispatcher that ended (terminated by hand, say) may be started again
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary="Outgoing webhooks: audit trail -> deliveries",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def start_delivery(
    client: Client, task_queue: str, delivery_id: str, series: int, schedule: RetrySchedule
) -> bool:
    """Start a delivery series' workflow; False if it was started already, so a repeat
    (a crash between the start and its bookkeeping) never sends twice."""
    try:
        await client.start_workflow(
            WEBHOOK_DELIVERY_WORKFLOW,
            DeliveryInput(delivery_id=delivery_id, series=series, schedule=schedule),
            id=delivery_workflow_id(delivery_id, series),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"Webhook delivery {delivery_id}, series {series}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
