"""The human-task machinery on the time-skipping server: a task reminded, escalated to its
backup, expired, decided by an operator, and refused for the wrong person; notices go
out by real SMTP to the sandbox and decisions land in the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.tasks import TaskActivities
from domain.tasks import Assignee, HumanTask, TaskState, TaskTimers
from integrations.email import EmailSender
from schemas.tables import AuditEvent
from schemas.tasks import TaskDecideInput
from store.db import transaction
from tests.support.stack import Stack, running_stack
from tests.workflows.task_harness import HumanTaskWorkflow
from worker.build import smtp_settings, workflow_runner

OWNER = Assignee(person_id="olivia", name="Olivia Owner", email="olivia@corp.test")
BACKUP = Assignee(person_id="bruno", name="Bruno Backup", email="bruno@corp.test")
TIMERS = TaskTimers(
    remind_after=timedelta(days=1), escalate_after=timedelta(days=2), expire_after=timedelta(days=4)
)


def po_exception() -> HumanTask:
    return HumanTask(
        task_id=f"po-exception-{uuid.uuid4().hex[:8]}",
        kind="po_exception",
        title="PO 4500012345: price variance on line 2",
        owners=(OWNER,),
        backup=BACKUP,
        choices=("accept_variance", "reject"),
        timers=TIMERS,
    )


@asynccontextmanager
async def task_running(
    env: WorkflowEnvironment, database_url: str, task: HumanTask
) -> AsyncIterator[tuple[Stack, WorkflowHandle[HumanTaskWorkflow, TaskState]]]:
    async with running_stack(env.client, database_url, run_worker=False) as stack:
        async with EmailSender(smtp_settings(stack.settings)) as email:
            activities = TaskActivities(stack.sessions, email, mail_from="ops@invoiceflow.test")
            async with Worker(
                env.client,
                task_queue=stack.settings.task_queue,
                workflows=[HumanTaskWorkflow],
                activities=[activities.notify, activities.record_decision],
                workflow_runner=workflow_runner(True, "tests"),
            ):
                handle = await env.client.start_workflow(
                    HumanTaskWorkflow.run,
                    task,
                    id=task.task_id,
                    task_queue=stack.settings.task_queue,
                    result_type=TaskState,
                )
                yield stack, handle


async def mails(stack: Stack, to: str, count: int) -> list[dict[str, Any]]:
    async def arrived() -> list[dict[str, Any]] | None:
        box = await stack.mailbox(to)
        return box if len(box) >= count else None

    return await stack.wait_for(arrived)  # type: ignore[no-any-return]


async def state(handle: WorkflowHandle[HumanTaskWorkflow, TaskState]) -> dict[str, Any]:
    return await handle.query(HumanTaskWorkflow.state)


async def audit_trail(stack: Stack, task_id: str) -> list[tuple[str, str]]:
    async with transaction(stack.sessions, writes=False) as session:
        rows = (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all()  # type: ignore[arg-type]
    return [(row.action, row.actor) for row in rows if row.data.get("task_id") == task_id]


async def refused(handle: WorkflowHandle[HumanTaskWorkflow, TaskState], **decide: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(HumanTaskWorkflow.decide, TaskDecideInput(**decide))
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    return str(cause.type)


async def test_a_silent_owner_is_reminded_then_the_backup_is_asked_and_decides(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    task = po_exception()
    async with task_running(time_skipping, sqlite_url, task) as (stack, handle):
        request = (await mails(stack, OWNER.email or "", 1))[0]
        assert request["subject"] == f"Waiting for you: {task.title}"
        assert "accept variance, reject" in request["text"]

        await time_skipping.sleep(timedelta(hours=23))
        assert len(await stack.mailbox("olivia@corp.test")) == 1
        await time_skipping.sleep(timedelta(hours=2))  # 25 h: the reminder is out
        reminder = (await mails(stack, "olivia@corp.test", 2))[1]
        assert reminder["subject"] == f"Reminder: {task.title}"
        assert await stack.mailbox("bruno@corp.test") == []
        assert (await state(handle))["reminders_sent"] == 1

        await time_skipping.sleep(timedelta(hours=24))  # 49 h: escalated to the backup
        escalation = (await mails(stack, "bruno@corp.test", 1))[0]
        assert escalation["subject"] == f"Escalated: {task.title}"
        view = await state(handle)
        assert view["escalated"] and view["waiting_on"] == ["Olivia Owner", "Bruno Backup"]
        assert view["next"]["kind"] == "expire"
        assert "a decision from Olivia Owner, Bruno Backup; expire at" in view["waiting_for"]
        # the reminder that would fall on the escalation is not sent
        assert len(await stack.mailbox("olivia@corp.test")) == 2

        decision = await handle.execute_update(
            HumanTaskWorkflow.decide,
            TaskDecideInput(person_id="bruno", choice="accept_variance", reason="agreed by phone"),
        )
        assert (decision.person_id, decision.as_backup, decision.by_operator) == (
            "bruno",
            True,
            False,
        )
        result = await handle.result()
        assert (result.status, result.outcome) == ("decided", "accept_variance")
        assert (await audit_trail(stack, task.task_id))[-1] == ("task.accept_variance", "bruno")
        assert [a for a, _ in await audit_trail(stack, task.task_id)][:3] == [
            "task.request_sent",
            "task.reminder_sent",
            "task.escalation_sent",
        ]


async def test_an_expired_task_refuses_its_owner_and_waits_for_an_operator(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    task = po_exception()
    async with task_running(time_skipping, sqlite_url, task) as (stack, handle):
        await mails(stack, "olivia@corp.test", 1)
        await time_skipping.sleep(timedelta(hours=97))  # past the 96 h expiry
        view = await stack.wait_for(lambda: _expired(handle))
        assert view["waiting_on"] == [] and view["next"] is None
        assert view["waiting_for"].startswith("operations: nobody decided")

        assert await refused(handle, person_id="olivia", choice="reject") == "task_expired"
        decision = await handle.execute_update(
            HumanTaskWorkflow.decide,
            TaskDecideInput(person_id="ann", choice="reject", operator=True, reason="stale"),
        )
        assert (decision.person_id, decision.by_operator) == ("operator:ann", True)
        result = await handle.result()
        assert (result.status, result.outcome) == ("decided", "reject")
        assert (await audit_trail(stack, task.task_id))[-1] == ("task.reject", "operator:ann")


async def _expired(handle: WorkflowHandle[HumanTaskWorkflow, TaskState]) -> dict[str, Any] | None:
    view = await state(handle)
    return view if view["status"] == "expired" else None


async def test_an_operator_decides_an_open_task_from_the_temporal_ui(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    task = po_exception()
    async with task_running(time_skipping, sqlite_url, task) as (stack, handle):
        await mails(stack, "olivia@corp.test", 1)
        decision = await handle.execute_update(
            HumanTaskWorkflow.decide,
            TaskDecideInput(person_id="ann", choice="accept_variance", operator=True),
        )
        assert (decision.person_id, decision.by_operator) == ("operator:ann", True)
        result = await handle.result()
        assert [(d.person_id, d.choice) for d in result.decisions] == [
            ("operator:ann", "accept_variance")
        ]
        assert (await audit_trail(stack, task.task_id))[-1] == (
            "task.accept_variance",
            "operator:ann",
        )
        # the owner was only asked: no reminder or escalation went out before the operator
        assert len(await stack.mailbox("olivia@corp.test")) == 1
        assert await stack.mailbox("bruno@corp.test") == []


async def test_a_decision_from_the_wrong_person_is_refused_and_leaves_no_trace(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    task = po_exception()
    async with task_running(time_skipping, sqlite_url, task) as (stack, handle):
        await mails(stack, "olivia@corp.test", 1)
        assert await refused(handle, person_id="mallory", choice="reject") == "not_your_task"
        # the backup has no seat before the task escalates
        assert await refused(handle, person_id="bruno", choice="reject") == "not_your_task"
        assert await refused(handle, person_id="olivia", choice="approve") == "choice_not_allowed"
        assert await refused(handle, person_id="  ", choice="reject", operator=True) == (
            "not_your_task"
        )
        history = await handle.fetch_history()
        accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        assert not [e for e in history.events if e.event_type == accepted]
        assert (await state(handle))["status"] == "open"

        await handle.execute_update(
            HumanTaskWorkflow.decide, TaskDecideInput(person_id="olivia", choice="reject")
        )
        result = await handle.result()
        assert [(d.person_id, d.choice) for d in result.decisions] == [("olivia", "reject")]
        assert (await audit_trail(stack, task.task_id))[-1] == ("task.reject", "olivia")
