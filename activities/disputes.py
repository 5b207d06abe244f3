"""The dispute's records: the case stored at intake, its owner at each level of the
ladder, every step of its timeline, and the remedies it issues (credit note, write-off).

Local activities of the dispute and invoice workflows, each one transaction and each
idempotent: the dispute's id derives from the intake's request id, a timeline event is
written once per event key, and a credit note or write-off once per business id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from domain.disputes import route_at_level, sla_due, start_level
from domain.tasks import TaskTimers, UnknownTimeZone
from schemas.dispute_flow import (
    ApproversInput,
    AssignLevelInput,
    CreditApprovers,
    CreditNoteIssued,
    DisputeMove,
    DisputePolicy,
    IssueCreditNoteInput,
    LevelAssignment,
    RecordDisputeInput,
    RecordedDispute,
    RecordPlanInput,
    TrackPlanInput,
    VoidInvoiceInput,
    WriteOffInput,
)
from schemas.dispute_tables import DisputeRow
from schemas.disputes import DisputeOpened, DisputeReason
from schemas.invoice import InvoiceStatus
from schemas.tables import Invoice
from store import disputes, invoices
from store.db import SessionFactory, transaction
from store.groups import assignee, group_members, owner_for


class DisputeActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    def policy(self) -> DisputePolicy:
        s = self._settings
        return DisputePolicy(
            top_level=s.dispute_ladder.top,
            credit_approval_threshold_minor=s.dispute_credit_approval_threshold_minor,
            write_off_limit_minor=s.dispute_write_off_limit_minor,
            info_response_days=s.dispute_info_response_days,
            remedy_response_days=s.dispute_remedy_response_days,
            declines_before_escalation=s.dispute_declines_before_escalation,
        )

    @activity.defn(name="disputes.record")
    async def record(self, data: RecordDisputeInput) -> RecordedDispute:
        """Store the dispute with its number and its first timeline event, and mark the
        invoice DISPUTED, in one transaction (a retry finds what the first run stored)."""
        now = datetime.now(UTC)
        level = start_level(self._settings.dispute_ladder, data.amount_minor)
        async with transaction(self._sessions) as session:
            row, created = await disputes.insert_dispute(
                session,
                request_id=data.request_id,
                invoice_id=data.invoice_id,
                customer_id=data.customer_id,
                currency=data.currency,
                reason=data.reason.value,
                description=data.description,
                lines=data.lines,
                amount_minor=data.amount_minor,
                level=level,
                channel=data.channel,
                opened_by=data.opened_by,
                opened_at=now,
            )
            if created:
                await disputes.add_event(
                    session,
                    dispute_id=row.id,
                    event_key=f"{row.id}:opened",
                    at=row.opened_at,
                    kind="opened",
                    actor=data.opened_by,
                    text=data.description,
                    visible_to_customer=True,
                    data={
                        "reason": data.reason.value,
                        "lines": data.lines,
                        "amount_minor": data.amount_minor,
                        "evidence_ids": data.evidence_ids,
                    },
                )
                await invoices.set_status(
                    session,
                    data.invoice_id,
                    InvoiceStatus.DISPUTED,
                    step_key=f"disputed:{row.id}",
                    actor=data.opened_by,
                    note=row.number,
                )
        return RecordedDispute(
            opened=DisputeOpened(
                dispute_id=row.id,
                number=row.number,
                invoice_id=row.invoice_id,
                amount_minor=row.original_amount_minor,
                currency=row.currency,
                created=created,
            ),
            opened_at=row.opened_at,
            level=row.level,
            policy=self.policy(),
        )

    @activity.defn(name="disputes.assign_level")
    async def assign_level(self, data: AssignLevelInput) -> LevelAssignment:
        """The dispute's owner at `data.level` (by rule at level 1, the ladder's group
        above it, round robin), its SLA due date, and the timeline event saying so. A
        retry answers with the owner the first run chose."""
        ladder = self._settings.dispute_ladder
        rung = ladder.level(data.level)
        async with transaction(self._sessions) as session:
            row = await session.get(DisputeRow, data.dispute_id)
            if row is None:
                raise ApplicationError(f"no dispute {data.dispute_id}", type="NotFound")
            again = row.level == data.level and row.owner_id is not None and row.sla_due_at
            if again and row.group_id is not None:
                members = await group_members(session, row.group_id)
                owner = next((m for m in members if m.id == row.owner_id), None)
            else:
                route = route_at_level(
                    self._settings.dispute_routing,
                    ladder,
                    data.level,
                    DisputeReason(row.reason),
                    row.customer_id,
                )
                owner, members = await owner_for(session, route)
                zone = owner.time_zone if owner is not None else "UTC"
                try:
                    due = sla_due(ladder, data.level, data.at, zone)
                except UnknownTimeZone:
                    due = sla_due(ladder, data.level, data.at, "UTC")
                await disputes.update_dispute(
                    session,
                    row.id,
                    level=data.level,
                    owner_id=owner.id if owner else None,
                    owner_name=owner.name if owner else None,
                    group_id=route.group,
                    sla_due_at=due,
                )
                who = owner.name if owner else "operations (the group has nobody active)"
                await disputes.add_event(
                    session,
                    dispute_id=row.id,
                    event_key=f"{row.id}:level{data.level}:assigned",
                    at=data.at,
                    kind="escalated" if data.why else "owner_assigned",
                    actor="workflow",
                    text=(
                        f"escalated to {rung.name} ({who}): {data.why}"
                        if data.why
                        else f"{rung.name}: {who} owns the dispute"
                    ),
                    visible_to_customer=True,
                    data={"level": data.level, "owner": who},
                )
            assert row.sla_due_at is not None
            people = [assignee(m) for m in members]
            if owner is not None:
                people = [assignee(owner)] + [p for p in people if p.person_id != owner.id]
        return LevelAssignment(
            level=data.level,
            level_name=rung.name,
            sla_business_days=rung.sla_business_days,
            group_id=row.group_id,
            owners=people,
            sla_due_at=row.sla_due_at,
            timers=TaskTimers(
                remind_after=timedelta(days=1),
                escalate_after=timedelta(days=2),
                expire_after=timedelta(days=3),
            ),
        )

    @activity.defn(name="disputes.move")
    async def move(self, data: DisputeMove) -> None:
        """A step of the case: its timeline event and the case fields it changes, once."""
        now = datetime.now(UTC)
        fields = data.model_dump(
            include={
                "status",
                "sla_breached",
                "sla_due_at",
                "resolution",
                "resolution_note",
                "root_cause",
                "resolved_level",
            },
            exclude_none=True,
        )
        if "status" in fields:
            fields["status"] = str(fields["status"])
        if "resolution" in fields:
            fields["resolution"] = str(fields["resolution"])
        async with transaction(self._sessions) as session:
            first = await disputes.add_event(
                session,
                dispute_id=data.dispute_id,
                event_key=data.event_key,
                at=now,
                kind=data.kind,
                actor=data.actor,
                text=data.text,
                visible_to_customer=data.visible_to_customer,
                data=data.data,
            )
            if not first:
                return
            if data.resolved:
                fields.update(resolved_at=now, disputed_minor=0)
            if fields:
                await disputes.update_dispute(session, data.dispute_id, **fields)

    @activity.defn(name="disputes.credit_approvers")
    async def credit_approvers(self, data: ApproversInput) -> CreditApprovers:
        s = self._settings
        async with transaction(self._sessions, writes=False) as session:
            members = await group_members(session, s.dispute_credit_approval_group)
        expire = timedelta(hours=s.dispute_credit_approval_expire_after_h)
        return CreditApprovers(
            owners=[assignee(m) for m in members],
            timers=TaskTimers(
                remind_after=expire / 5, escalate_after=expire / 2, expire_after=expire
            ),
        )

    @activity.defn(name="disputes.issue_credit_note")
    async def issue_credit_note(self, data: IssueCreditNoteInput) -> CreditNoteIssued:
        async with transaction(self._sessions) as session:
            try:
                row, _ = await disputes.issue_credit_note(
                    session,
                    credit_note_id=data.credit_note_id,
                    invoice_id=data.invoice_id,
                    dispute_id=data.dispute_id,
                    currency=data.currency,
                    amount_minor=data.amount_minor,
                    reason=data.reason.value,
                    settlement=data.settlement.value,
                    created_at=datetime.now(UTC),
                )
            except disputes.NotCreditable as refused:
                raise ApplicationError(str(refused), type="NotCreditable") from refused
        return CreditNoteIssued(
            credit_note_id=row.id,
            number=row.number,
            amount_minor=row.amount_minor,
            issued_at=row.created_at,
        )

    @activity.defn(name="disputes.record_plan")
    async def record_plan(self, data: RecordPlanInput) -> None:
        """The accepted payment plan's instalments, once."""
        async with transaction(self._sessions) as session:
            await disputes.insert_instalments(
                session,
                dispute_id=data.dispute_id,
                invoice_id=data.invoice_id,
                instalments=data.instalments,
            )

    @activity.defn(name="disputes.track_plan")
    async def track_plan(self, data: TrackPlanInput) -> None:
        """What each instalment has been paid and its status now (values: a repeat is
        harmless)."""
        async with transaction(self._sessions) as session:
            for sequence, paid, status in data.positions:
                await disputes.update_instalment(
                    session,
                    invoice_id=data.invoice_id,
                    dispute_id=data.dispute_id,
                    sequence=sequence,
                    paid_minor=paid,
                    status=status,
                )

    @activity.defn(name="disputes.void_invoice")
    async def void_invoice(self, data: VoidInvoiceInput) -> None:
        """The original of an adjusted invoice: VOID (its number kept, never reused) and
        linked to the invoice that replaces it, once."""
        now = datetime.now(UTC)
        async with transaction(self._sessions) as session:
            invoice = await session.get(Invoice, data.invoice_id)
            if invoice is None:
                raise ApplicationError(f"no invoice {data.invoice_id}", type="NotFound")
            if invoice.voided_at is None:
                invoice.voided_at = now
                invoice.replaced_by_invoice_id = data.replaced_by_invoice_id
                session.add(invoice)
                await session.flush()
            await invoices.set_status(
                session,
                data.invoice_id,
                InvoiceStatus.VOID,
                step_key=f"void:{data.dispute_id}",
                actor=data.actor,
                note=f"replaced by {data.replaced_by_invoice_id}",
            )

    @activity.defn(name="disputes.write_off")
    async def write_off(self, data: WriteOffInput) -> None:
        async with transaction(self._sessions) as session:
            try:
                await disputes.record_write_off(
                    session,
                    dispute_id=data.dispute_id,
                    invoice_id=data.invoice_id,
                    amount_minor=data.amount_minor,
                    key=data.write_off_id,
                )
            except disputes.NotCreditable as refused:
                raise ApplicationError(str(refused), type="NotCreditable") from refused
