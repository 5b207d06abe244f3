"""The side effects of a human task: e-mailing the people it waits on, and writing each
decision to the audit trail.

Both are idempotent under retries and crashes. A notice has a key (task, kind, sequence,
person) from which its Message-ID and its audit step derive: an attempt that finds the
notice recorded sends nothing, and one that crashed between sending and recording sends
the same Message-ID again, which the mailbox drops. A decision's audit step is keyed by
the task, the person and the instant, so a retried write records it once.
"""

from __future__ import annotations

import structlog
from sqlmodel import select
from temporalio import activity

from activities.heartbeat import heartbeats
from core.links import TaskLink, task_url
from integrations.email import EmailSender
from integrations.errors import ProviderError
from rendering.task_email import render_task_email
from schemas.tables import AuditEvent
from schemas.tasks import RecordTaskDecisionInput, TaskNoticeInput, TaskNoticeResult
from store import audit
from store.db import SessionFactory, transaction

log = structlog.get_logger()


def notice_key(data: TaskNoticeInput, person_id: str) -> str:
    return f"{data.task.task_id}:{data.kind}:{data.sequence}:{person_id}"


class TaskActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        email: EmailSender,
        *,
        mail_from: str,
        public_base_url: str = "",
        link_secret: str = "",
    ) -> None:
        self._sessions = sessions
        self._email = email
        self._mail_from = mail_from
        self._public_base_url = public_base_url
        self._link_secret = link_secret

    @activity.defn(name="task.notify")
    @heartbeats
    async def notify(self, data: TaskNoticeInput) -> TaskNoticeResult:
        """E-mail each recipient once. Someone without an address, or whose mailbox refuses
        the message for good, is reported as unreachable: the task goes on (reminders,
        escalation), and the caller shows who could not be reached. A temporary failure
        raises, so the activity retries and sends only what is not yet recorded."""
        sent: list[str] = []
        unreachable: dict[str, str] = {}
        keys = {p.person_id: notice_key(data, p.person_id) for p in data.recipients}
        async with transaction(self._sessions, writes=False) as session:
            done = set(
                (
                    await session.exec(
                        select(AuditEvent.step_key).where(
                            AuditEvent.step_key.in_(list(keys.values()))  # type: ignore[attr-defined]
                        )
                    )
                ).all()
            )
        for person in data.recipients:
            key = keys[person.person_id]
            if key in done:
                sent.append(person.person_id)
                continue
            if not person.email:
                unreachable[person.person_id] = "no e-mail address"
                continue
            link = None
            if data.link_path is not None:
                claims = TaskLink(task_id=data.task.task_id, person_id=person.person_id)
                link = task_url(self._public_base_url, self._link_secret, data.link_path, claims)
            rendered = render_task_email(
                data.task,
                person,
                data.kind,
                details=data.details,
                deadline=data.decide_by,
                link=link,
            )
            try:
                await self._email.send(
                    message_id=f"<{key.replace(':', '.')}@invoiceflow>",
                    sender=self._mail_from,
                    to=[person.email],
                    subject=rendered.subject,
                    html=rendered.html,
                    text=rendered.text,
                )
            except ProviderError as err:
                if err.retryable:
                    raise
                unreachable[person.person_id] = err.detail
                continue
            async with transaction(self._sessions) as session:
                await audit.record(
                    session,
                    step_key=key,
                    invoice_id=data.invoice_id,
                    entity=data.task.kind,
                    action=f"task.{data.kind}_sent",
                    actor="system",
                    data={"task_id": data.task.task_id, "to": person.person_id},
                )
            sent.append(person.person_id)
        if unreachable:
            log.warning("task.unreachable", task_id=data.task.task_id, unreachable=unreachable)
        return TaskNoticeResult(sent_to=sent, unreachable=unreachable)

    @activity.defn(name="task.record_decision")
    async def record_decision(self, data: RecordTaskDecisionInput) -> None:
        decision = data.decision
        async with transaction(self._sessions) as session:
            await audit.record(
                session,
                step_key=f"{data.task.task_id}:decision:{decision.person_id}:{decision.at.isoformat()}",
                invoice_id=data.invoice_id,
                entity=data.task.kind,
                action=f"task.{decision.choice}",
                actor=decision.person_id,
                data={
                    "task_id": data.task.task_id,
                    "reason": decision.reason,
                    "as_backup": decision.as_backup,
                    "via": "temporal-ui" if decision.by_operator else "task",
                    "delegated_from": decision.delegated_from,
                },
                at=decision.at,
            )
