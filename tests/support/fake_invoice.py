"""A stand-in invoice process for tests of what calls `resolve_exception`: a workflow
under the invoice's workflow id whose update validator refuses with the code it was
started with, or takes one resolution (and refuses a second with `no_exception`, as the
match stage does), on a real Temporal server.

The API then meets every refusal exactly as it comes from Temporal (an update failed
with an ApplicationError of that type), without a match stage to bring each one about.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from schemas.ids import invoice_workflow_id
from schemas.matching import ResolveExceptionInput, ResolveExceptionResult

STATUS_AFTER = {"accept_variance": "AWAITING_APPROVAL", "cancel": "CANCELLED", "wait": "EXCEPTION"}


@workflow.defn(name="FakeInvoiceWithException")
class FakeInvoiceWithException:
    # workflow.init: an update may arrive in the first activation, before run() starts,
    # and its validator must already know the refusal
    @workflow.init
    def __init__(self, refusal: str) -> None:
        self.refusal = refusal or None
        self.received: list[ResolveExceptionInput] = []
        self.settled = False

    @workflow.run
    async def run(self, refusal: str) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update(name="resolve_exception")
    async def resolve(self, data: ResolveExceptionInput) -> ResolveExceptionResult:
        self.received.append(data)
        self.settled = data.resolution != "wait"
        return ResolveExceptionResult(
            resolution=data.resolution, status=STATUS_AFTER[data.resolution]
        )

    @resolve.validator
    def _check(self, data: ResolveExceptionInput) -> None:
        if self.refusal:
            raise ApplicationError(f"refused: {self.refusal}", type=self.refusal)
        if self.settled:
            raise ApplicationError("no exception is waiting", type="no_exception")

    @workflow.query(name="received")
    def received_inputs(self) -> list[ResolveExceptionInput]:
        return self.received


@dataclass
class FakeInvoices:
    temporal: Client
    task_queue: str

    async def start(self, invoice_id: str, refusal: str | None = None) -> None:
        await self.temporal.start_workflow(
            FakeInvoiceWithException.run,
            refusal or "",
            id=invoice_workflow_id(invoice_id),
            task_queue=self.task_queue,
            execution_timeout=timedelta(minutes=5),
        )

    async def received(self, invoice_id: str) -> list[ResolveExceptionInput]:
        handle = self.temporal.get_workflow_handle(invoice_workflow_id(invoice_id))
        return await handle.query(
            FakeInvoiceWithException.received_inputs, result_type=list[ResolveExceptionInput]
        )


@contextlib.asynccontextmanager
async def fake_invoices(temporal: Client) -> AsyncIterator[FakeInvoices]:
    task_queue = f"fake-invoice-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal,
        task_queue=task_queue,
        workflows=[FakeInvoiceWithException],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield FakeInvoices(temporal, task_queue)
