"""Inputs of the activities every human task uses: its notices and its audit record."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.tasks import Assignee, HumanTask, NoticeKind, TaskDecision


class TaskNoticeInput(BaseModel):
    """Tell people a task waits on them: the request, a reminder, the escalation.

    `sequence` tells reminders apart (each is its own e-mail); `details` is what the
    task is about, in a sentence the e-mail shows; `invoice_id` ties the audit to it.
    """

    task: HumanTask
    kind: NoticeKind
    sequence: int = 0
    recipients: list[Assignee]
    details: str = Field(default="", max_length=2000)
    invoice_id: str | None = None
    decide_by: datetime | None = None  # the next deadline, shown to the reader
    # where each person's signed review link points (e.g. "/exception-review"); none: no link
    link_path: str | None = None


class TaskNoticeResult(BaseModel):
    sent_to: list[str]  # person ids e-mailed by this call or an earlier attempt
    unreachable: dict[str, str] = {}  # person id -> why no e-mail could reach them


class RecordTaskDecisionInput(BaseModel):
    task: HumanTask
    decision: TaskDecision
    invoice_id: str | None = None


class TaskDecideInput(BaseModel):
    """An update deciding a task: a person's click, or an operator from the Temporal UI
    (``{"person_id": "alice", "choice": "accept", "operator": true}``)."""

    person_id: str
    choice: str
    reason: str | None = Field(default=None, max_length=2000)
    operator: bool = False
