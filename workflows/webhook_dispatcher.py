"""The webhook dispatcher: one long-running workflow per task queue that turns the audit
trail into deliveries.

Every `poll_every_s` it runs one local activity (`webhooks.fan_out`): new audit rows ->
public events -> a delivery per subscribed endpoint -> one `WebhookDelivery` workflow
each. A local activity adds one marker to the history, and the timer two events, so
after `polls_before_continue_as_new` polls (or when the server suggests it) it
continues as new, carrying nothing: the cursor is in the database, with the fan-out, so
a crash between the two can never lose or double an event.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from schemas.webhooks import WEBHOOK_DISPATCHER_WORKFLOW, DispatcherInput, FanOutInput

FAN_OUT_TIMEOUT = timedelta(seconds=60)
FAN_OUT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@workflow.defn(name=WEBHOOK_DISPATCHER_WORKFLOW)
class WebhookDispatcherWorkflow:
    def __init__(self) -> None:
        self._polls = 0
        self._fanned_out = 0

    @workflow.run
    async def run(self, data: DispatcherInput) -> None:
        while self._polls < data.polls_before_continue_as_new:
            self._polls += 1
            result = await workflow.execute_local_activity_method(
                WebhookActivities.fan_out,
                FanOutInput(
                    task_queue=data.task_queue, schedule=data.schedule, settle_s=data.settle_s
                ),
                start_to_close_timeout=FAN_OUT_TIMEOUT,
                retry_policy=FAN_OUT_RETRY,
            )
            self._fanned_out += result.deliveries
            workflow.set_current_details(
                f"Polling the audit trail every {data.poll_every_s:g} s; "
                f"{self._fanned_out} deliveries fanned out in this run"
            )
            if workflow.info().is_continue_as_new_suggested():
                break
            if not result.more:  # a full batch: read on at once
                await workflow.sleep(timedelta(seconds=data.poll_every_s))
        workflow.continue_as_new(data)
