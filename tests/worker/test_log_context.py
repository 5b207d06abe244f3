"""structlog events logged during an activity carry the invoice id, the workflow id and the
run id (worker/log_context.py), and only during it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from pydantic import BaseModel
from structlog.testing import capture_logs
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from worker.log_context import LogContextInterceptor


class ProbeInput(BaseModel):
    invoice_id: str | None = None


@activity.defn(name="test.log_probe")
async def log_probe(data: ProbeInput) -> None:
    structlog.get_logger().info("test.probe_logged", detail="from the activity")


@workflow.defn(name="LogContextProbe")
class LogContextProbe:
    @workflow.run
    async def run(self, data: ProbeInput) -> None:
        await workflow.execute_activity(
            log_probe, data, start_to_close_timeout=timedelta(seconds=10)
        )


async def run_probe(temporal: Client, workflow_id: str, data: ProbeInput) -> tuple[str, list]:
    task_queue = f"log-context-{uuid.uuid4().hex[:8]}"
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        async with Worker(
            temporal,
            task_queue=task_queue,
            workflows=[LogContextProbe],
            activities=[log_probe],
            interceptors=[LogContextInterceptor()],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            handle = await temporal.start_workflow(
                LogContextProbe.run, data, id=workflow_id, task_queue=task_queue
            )
            await handle.result()
        structlog.get_logger().info("test.after_the_activity")
    assert handle.result_run_id is not None
    return handle.result_run_id, events


async def test_an_activity_of_an_invoice_workflow_logs_its_invoice_workflow_and_run(
    temporal: Client,
) -> None:
    invoice_id = f"inv_{uuid.uuid4().hex[:16]}"
    run_id, events = await run_probe(temporal, f"invoice-{invoice_id}", ProbeInput())
    [logged] = [e for e in events if e["event"] == "test.probe_logged"]
    assert logged["invoice_id"] == invoice_id
    assert logged["workflow_id"] == f"invoice-{invoice_id}"
    assert logged["run_id"] == run_id
    assert logged["activity"] == "test.log_probe" and logged["attempt"] == 1
    assert logged["detail"] == "from the activity"
    [after] = [e for e in events if e["event"] == "test.after_the_activity"]
    assert "workflow_id" not in after and "invoice_id" not in after


async def test_another_workflow_names_the_invoice_its_input_is_about(temporal: Client) -> None:
    workflow_id = f"dispute-dsp_{uuid.uuid4().hex[:16]}"
    run_id, events = await run_probe(temporal, workflow_id, ProbeInput(invoice_id="inv_42"))
    [logged] = [e for e in events if e["event"] == "test.probe_logged"]
    assert logged["invoice_id"] == "inv_42"
    assert logged["workflow_id"] == workflow_id and logged["run_id"] == run_id
