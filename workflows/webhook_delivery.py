"""One webhook delivery series: one event to one endpoint, retried for about three days.

The retry policy is the schedule (`schemas.webhooks.RetrySchedule`): Temporal keeps the
backoff through worker crashes and restarts, and a ``Retry-After`` the receiver sent
replaces the next interval (the activity raises with ``next_retry_delay``). The series
ends when the receiver takes it (2xx), when the endpoint is off or answers 410 (a
non-retryable error), or when the schedule-to-close timeout (the three days) runs out;
the last two are recorded by `webhooks.finish`.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from schemas.webhooks import (
        WEBHOOK_DELIVERY_WORKFLOW,
        DeliveryInput,
        DeliveryResult,
        FinishInput,
        RetrySchedule,
        SendInput,
    )

FINISH_TIMEOUT = timedelta(seconds=30)
FINISH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1))


def retry_policy(schedule: RetrySchedule) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=schedule.initial_interval_s),
        backoff_coefficient=schedule.backoff_coefficient,
        maximum_interval=timedelta(seconds=schedule.maximum_interval_s),
        maximum_attempts=0,  # bounded by time (schedule-to-close), not by count
        non_retryable_error_types=["EndpointGone"],
    )


@workflow.defn(name=WEBHOOK_DELIVERY_WORKFLOW)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, data: DeliveryInput) -> DeliveryResult:
        schedule = data.schedule
        workflow.set_current_details(f"Sending delivery {data.delivery_id}")
        try:
            sent = await workflow.execute_activity_method(
                WebhookActivities.send,
                SendInput(
                    delivery_id=data.delivery_id,
                    series=data.series,
                    timeout_s=schedule.attempt_timeout_s,
                ),
                start_to_close_timeout=timedelta(seconds=schedule.attempt_timeout_s + 15),
                schedule_to_close_timeout=schedule.give_up_after,
                retry_policy=retry_policy(schedule),
            )
        except ActivityError as failed:
            cause = failed.cause
            gone = isinstance(cause, ApplicationError) and cause.type == "EndpointGone"
            status = "disabled" if gone else "failed"
            if isinstance(cause, TimeoutError) or failed.retry_state == RetryState.TIMEOUT:
                error = f"gave up after {schedule.give_up_after}"
            else:
                error = str(cause) if cause is not None else str(failed)
            await workflow.execute_local_activity_method(
                WebhookActivities.finish,
                FinishInput(delivery_id=data.delivery_id, status=status, error=error),
                start_to_close_timeout=FINISH_TIMEOUT,
                retry_policy=FINISH_RETRY,
            )
            workflow.set_current_details(f"Delivery {data.delivery_id}: {status} ({error})")
            return DeliveryResult(
                delivery_id=data.delivery_id, series=data.series, status=status, error=error
            )
        workflow.set_current_details(f"Delivered {data.delivery_id} (HTTP {sent.status_code})")
        return DeliveryResult(
            delivery_id=data.delivery_id,
            series=data.series,
            status="delivered",
            attempts=sent.attempt,
        )
