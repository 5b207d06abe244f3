"""The real retry schedule, on the time-skipping server: a receiver that never answers
2xx is tried about 20 times, 30 s first, never more than 6 h apart, and given up on
after three days, recorded as failed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.webhooks import DeliveryInput, FinishInput, SendInput, SendResult
from workflows.webhook_delivery import WebhookDeliveryWorkflow


async def test_a_receiver_that_never_takes_it_is_given_up_on_after_about_three_days(
    time_skipping: WorkflowEnvironment,
) -> None:
    attempts: list[datetime] = []
    finished: list[FinishInput] = []

    @activity.defn(name="webhooks.send")
    async def always_503(data: SendInput) -> SendResult:
        attempts.append(await time_skipping.get_current_time())  # the server's skipped clock
        raise ApplicationError("HTTP 503", type="WebhookNotAccepted")

    @activity.defn(name="webhooks.finish")
    async def finish(data: FinishInput) -> None:
        finished.append(data)

    queue = f"schedule-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_skipping.client,
        task_queue=queue,
        workflows=[WebhookDeliveryWorkflow],
        activities=[always_503, finish],
    ):
        started = await time_skipping.get_current_time()
        result = await time_skipping.client.execute_workflow(
            WebhookDeliveryWorkflow.run,
            DeliveryInput(delivery_id="whd_test"),
            id=f"webhook-whd_test-{queue}",
            task_queue=queue,
        )
        ended = await time_skipping.get_current_time()

    assert result.status == "failed"
    assert [f.status for f in finished] == ["failed"]
    # seconds between attempts (the test server's clock runs on by a few ms per attempt)
    gaps = [round((b - a).total_seconds()) for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[:4] == [30, 60, 120, 240]
    assert max(gaps) == 6 * 3600
    assert 18 <= len(attempts) <= 22, len(attempts)
    took = ended - started
    assert timedelta(days=2, hours=18) <= took <= timedelta(days=3, minutes=1), took
