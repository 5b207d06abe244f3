"""A workflow that runs one human task and nothing else: the machinery under test, with
the production host (`OneDecisionTask`) and activities (`TaskActivities`), on a real
Temporal server. Each later user (a PO exception, a dispute level) wires the same four
pieces into its own workflow: `run`, the update and its validator, and the view."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.tasks import HumanTask, TaskDecision, TaskState
    from schemas.tasks import TaskDecideInput
    from workflows.human_task import OneDecisionTask


@workflow.defn(name="test.human_task")
class HumanTaskWorkflow:
    @workflow.init
    def __init__(self, task: HumanTask) -> None:
        self.waiting_for: str | None = None
        self.expired_seen = 0
        self.host = OneDecisionTask(
            task, self, invoice_id=None, details="Test task", on_expired=self._expired
        )

    async def _expired(self) -> None:
        self.expired_seen += 1

    @workflow.run
    async def run(self, task: HumanTask) -> TaskState:
        return await self.host.run()

    @workflow.update
    async def decide(self, data: TaskDecideInput) -> TaskDecision:
        return await self.host.decide(
            data.person_id, data.choice, reason=data.reason, operator=data.operator
        )

    @decide.validator
    def _validate_decide(self, data: TaskDecideInput) -> None:
        self.host.validate(data.person_id, data.choice, operator=data.operator)

    @workflow.query
    def state(self) -> dict[str, Any]:
        return {**self.host.view(), "waiting_for": self.waiting_for}

    # --- TaskScope -----------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return False

    def raise_if_cancelled(self) -> None:
        """This harness has no cancel; a process's scope raises its own exception here."""

    def waits_for(self, what: str | None) -> None:
        self.waiting_for = what
        workflow.set_current_details(f"Waiting for: {what}")
