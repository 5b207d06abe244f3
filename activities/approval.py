"""Approval steps: load the policy, send personal links by e-mail, record decisions, revise.

Every link e-mail has a deterministic Message-ID (invoice, round, level, person, kind,
sequence) and every request row a deterministic key, so a retried step sends and writes
once. Tokens are made here and go only into the e-mail: never into logs or history.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeats
from core.links import ApprovalLink, approval_url
from core.settings import Settings
from domain.approval import ApprovalTimers
from integrations.email import EmailSender
from integrations.errors import ProviderError
from rendering.approval_email import render_approval_email
from schemas.approval import (
    ApprovalContext,
    LoadApprovalContextInput,
    RecordDecisionInput,
    ReviseInvoiceInput,
    ReviseInvoiceResult,
    SendApprovalLinksInput,
)
from store import approval_policy, approvals, audit, invoices
from store.db import SessionFactory, transaction

log = structlog.get_logger()


def request_id(invoice_id: str, round_: int, level: int, approver_id: str) -> str:
    return f"{invoice_id}:r{round_}:l{level}:{approver_id}"


class ApprovalActivities:
    def __init__(self, sessions: SessionFactory, email: EmailSender, settings: Settings) -> None:
        self._sessions = sessions
        self._email = email
        self._settings = settings

    @activity.defn(name="approval.load_context")
    async def load_context(self, data: LoadApprovalContextInput) -> ApprovalContext:
        async with transaction(self._sessions, writes=False) as session:
            policy = await approval_policy.policy_for_invoices(session)
        s = self._settings
        if s.approval_rates is not None:
            policy = policy.model_copy(update={"rates": s.approval_rates})
        return ApprovalContext(
            policy=policy,
            timers=ApprovalTimers(
                remind_after=timedelta(hours=s.approval_remind_after_h),
                escalate_after=timedelta(hours=s.approval_escalate_after_h),
                expire_after=timedelta(hours=s.approval_expire_after_h),
                business_hours=s.approval_business_hours,
            ),
        )

    @activity.defn(name="approval.send_links")
    @heartbeats
    async def send_links(self, data: SendApprovalLinksInput) -> list[str]:
        """Each recipient's link by e-mail. A mailbox refusing for good does not keep the
        others' links back: they are sent, then the refused approvers are reported in a
        non-retryable `PermanentDeliveryFailure` whose details list their ids."""
        invoice = data.invoice
        sent: list[str] = []
        refused: dict[str, str] = {}
        for person in data.recipients:
            rid = request_id(invoice.invoice_id, data.round, data.level_index, person.approver_id)
            async with transaction(self._sessions) as session:
                await approvals.record_request_sent(
                    session,
                    request_id=rid,
                    invoice_id=invoice.invoice_id,
                    round=data.round,
                    level=data.level_index,
                    approver_id=person.approver_id,
                    delegated_from=person.delegated_from,
                    version=data.version,
                )
            link = ApprovalLink(
                invoice_id=invoice.invoice_id,
                request_id=rid,
                approver_id=person.approver_id,
                round=data.round,
                level=data.level_index,
                version=data.version,
            )
            url = approval_url(
                self._settings.public_base_url,
                self._settings.link_signing_secret.get_secret_value(),
                link,
            )
            mail = render_approval_email(
                invoice,
                kind=data.kind,
                approver_name=person.name,
                url=url,
                level=data.level_index + 1,
                levels=data.levels,
                why=data.why,
                delegated_from=person.delegated_from,
            )
            # ":" is not allowed in a Message-ID (RFC 5322 dot-atom)
            message_id = f"<{rid.replace(':', '.')}.{data.kind}{data.sequence}@invoiceflow>"
            try:
                await self._email.send(
                    message_id=message_id,
                    sender=self._settings.mail_from,
                    to=[person.email],
                    subject=mail.subject,
                    html=mail.html,
                    text=mail.text,
                )
            except ProviderError as err:
                if err.retryable:
                    raise
                refused[person.approver_id] = err.detail
                log.warning(
                    "approval.link_refused",
                    invoice_id=invoice.invoice_id,
                    approver_id=person.approver_id,
                    detail=err.detail,
                )
                continue
            sent.append(person.approver_id)
            log.info(
                "approval.link_sent",
                invoice_id=invoice.invoice_id,
                approver_id=person.approver_id,
                kind=data.kind,
            )
        if refused:
            reasons = "; ".join(f"{who}: {why}" for who, why in refused.items())
            raise ApplicationError(
                f"approval e-mail refused for {reasons}",
                list(refused),
                type="PermanentDeliveryFailure",
                non_retryable=True,
            )
        return sent

    @activity.defn(name="approval.record_decision")
    async def record_decision(self, data: RecordDecisionInput) -> None:
        async with transaction(self._sessions) as session:
            if data.actor.startswith("operator:"):  # decided from the Temporal UI, no link
                await audit.record(
                    session,
                    step_key=f"{data.invoice_id}:approval:{data.actor}:{data.at.isoformat()}",
                    invoice_id=data.invoice_id,
                    entity="approval",
                    action=approvals.DECISION_ACTIONS[data.decision],
                    actor=data.actor,
                    data={"reason": data.reason, "via": "temporal-ui"},
                    at=data.at,
                )
                return
            await approvals.record_decision(
                session,
                request_id=data.request_id,
                decision=data.decision,  # type: ignore[arg-type]
                reason=data.reason,
                ip=data.ip,
                user_agent=data.user_agent,
                at=data.at,
                actor=data.actor,
            )

    @activity.defn(name="invoice.revise")
    async def revise(self, data: ReviseInvoiceInput) -> ReviseInvoiceResult:
        async with transaction(self._sessions) as session:
            revised, rule = await invoices.revise_invoice(
                session,
                data.invoice_id,
                data.correction.items,
                data.correction.lines,
                version=data.version,
                changed_by=data.correction.changed_by,
                po_number=data.correction.po_number,
            )
            if revised is not None:
                await approvals.supersede_round(session, data.invoice_id, data.round)
        if rule is not None:
            return ReviseInvoiceResult(rejection_code=rule.code, rejection_reason=rule.detail)
        return ReviseInvoiceResult(invoice=revised)
