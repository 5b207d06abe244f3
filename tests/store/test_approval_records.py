"""Approval configuration and records, on SQLite and PostgreSQL: the policy comes back as
stored, and every record write (link sent, decision, superseding a round) happens once
however often the step runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import func, select

from domain.approval import (
    ApprovalPolicy,
    ApprovalRule,
    Approver,
    ApproverGroup,
    Delegation,
    LevelRule,
    Quorum,
)
from schemas.ids import new_id
from schemas.tables import (
    ApprovalLinkEvent,
    ApprovalRequestRow,
    ApprovalRuleRow,
    ApproverGroupRow,
    ApproverRow,
    AuditEvent,
    DelegationRow,
    Invoice,
)
from store import approval_policy, approvals
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.factories import customer_and_contract

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def an_invoice(sessions: SessionFactory) -> str:
    customer, contract = await customer_and_contract(sessions)
    invoice_id = new_id("inv")
    async with transaction(sessions) as session:
        session.add(
            Invoice(
                id=invoice_id,
                customer_id=customer.id,
                contract_id=contract.id,
                status="PENDING_APPROVAL",
                currency="GBP",
                tax_region="GB",
                created_by="billing-app",
                created_at=T0,
                updated_at=T0,
            )
        )
    return invoice_id


async def count(sessions: SessionFactory, table: type, **where: object) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(getattr(table, name) == value)
    async with sessions() as session:
        return int((await session.exec(query)).one())


async def send(
    sessions: SessionFactory,
    invoice_id: str,
    *,
    round: int = 1,
    level: int = 0,
    approver_id: str = "alice",
    delegated_from: str | None = None,
) -> tuple[str, bool]:
    request_id = approvals.approval_request_id(invoice_id, round, level, approver_id)
    async with transaction(sessions) as session:
        created = await approvals.record_request_sent(
            session,
            request_id=request_id,
            invoice_id=invoice_id,
            round=round,
            level=level,
            approver_id=approver_id,
            delegated_from=delegated_from,
            version=1,
            at=T0,
        )
    return request_id, created


async def decide(
    sessions: SessionFactory, request_id: str, decision: str = "approve", reason: str | None = None
) -> bool:
    async with transaction(sessions) as session:
        return await approvals.record_decision(
            session,
            request_id=request_id,
            decision=decision,  # type: ignore[arg-type]
            reason=reason,
            ip="203.0.113.7",
            user_agent="Mozilla/5.0",
            at=T0 + timedelta(hours=2),
        )


# --- the policy --------------------------------------------------------------------------


async def test_an_empty_configuration_is_an_empty_policy(sessions: SessionFactory) -> None:
    async with sessions() as session:
        policy = await approval_policy.load_policy(session)
    assert policy == ApprovalPolicy(rules=[], groups=[], approvers=[], delegations=[])


async def test_load_policy_returns_what_was_stored_in_rule_order_without_inactive_or_revoked(
    sessions: SessionFactory,
) -> None:
    alice = Approver(
        id="alice", name="Alice", email="alice@example.test", time_zone="Europe/London"
    )
    bob = Approver(id="bob", name="Bob", email="bob@example.test", time_zone="America/Toronto")
    carol = Approver(id="carol", name="Carol", email="carol@example.test")
    finance = ApproverGroup(id="grp_fin", name="Finance", members=["alice", "bob", "gone"])
    directors = ApproverGroup(
        id="grp_dir", name="Directors", members=["carol"], backup_approver_id="gone"
    )
    big = ApprovalRule(
        id="rule_big",
        description="Invoices of GBP 10,000.00 or more",
        document_types=frozenset({"invoice"}),
        min_amount_minor=1_000_000,
        currency="GBP",
        regions=frozenset({"GB", "CA-QC"}),
        levels=[
            LevelRule(group_id="grp_fin", quorum=Quorum(kind="count", count=2)),
            LevelRule(group_id="grp_dir", quorum=Quorum(kind="all")),
        ],
    )
    credit = ApprovalRule(
        id="rule_credit",
        description="Every credit note",
        document_types=frozenset({"credit_note"}),
        requires_po_variance=False,
        levels=[LevelRule(group_id="grp_fin")],
    )
    async with transaction(sessions) as session:
        for approver in (alice, bob, carol):
            await approval_policy.add_approver(session, approver, T0)
        gone = Approver(id="gone", name="Gone", email="gone@example.test")
        (await approval_policy.add_approver(session, gone, T0)).active = False
        for minutes, group in enumerate((finance, directors)):  # listed in creation order
            await approval_policy.add_group(session, group, T0 + timedelta(minutes=minutes))
        # stored out of order: the policy follows position, not insertion or id
        session.add(
            ApprovalRuleRow(
                id=credit.id,
                description=credit.description,
                position=2,
                definition=approval_policy.rule_definition(credit),
                created_at=T0,
            )
        )
        session.add(
            ApprovalRuleRow(
                id=big.id,
                description=big.description,
                position=1,
                definition=approval_policy.rule_definition(big),
                created_at=T0 + timedelta(minutes=1),
            )
        )
        session.add(
            ApprovalRuleRow(
                id="rule_old",
                description="Switched off",
                position=0,
                definition=approval_policy.rule_definition(credit),
                active=False,
                created_at=T0,
            )
        )
        away = Delegation(
            approver_id="alice",
            delegate_id="carol",
            starts=date(2026, 12, 1),
            ends=date(2026, 12, 5),
        )
        await approval_policy.add_delegation(session, "dlg_1", away, T0)
        revoked = Delegation(
            approver_id="bob", delegate_id="carol", starts=date(2026, 12, 1), ends=date(2026, 12, 2)
        )
        revoked_row = await approval_policy.add_delegation(session, "dlg_2", revoked, T0)
        await approval_policy.revoke_delegation(session, revoked_row, T0)
        to_inactive = Delegation(
            approver_id="carol",
            delegate_id="gone",
            starts=date(2026, 12, 1),
            ends=date(2026, 12, 2),
        )
        await approval_policy.add_delegation(session, "dlg_3", to_inactive, T0)

    async with sessions() as session:
        policy = await approval_policy.load_policy(session)

    assert policy.rules == [big, credit]
    assert policy.approvers == [alice, bob, carol]
    assert policy.groups == [
        ApproverGroup(id="grp_fin", name="Finance", members=["alice", "bob"]),
        ApproverGroup(id="grp_dir", name="Directors", members=["carol"]),
    ]
    assert policy.delegations == [away]
    assert policy == ApprovalPolicy(
        rules=[big, credit],
        groups=[
            ApproverGroup(id="grp_fin", name="Finance", members=["alice", "bob"]),
            ApproverGroup(id="grp_dir", name="Directors", members=["carol"]),
        ],
        approvers=[alice, bob, carol],
        delegations=[away],
        rates=None,
    )


async def test_revoking_a_delegation_twice_revokes_it_once(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        for who in ("dan", "erin"):
            await approval_policy.add_approver(
                session, Approver(id=who, name=who, email=f"{who}@example.test"), T0
            )
        row = await approval_policy.add_delegation(
            session,
            "dlg_x",
            Delegation(
                approver_id="dan",
                delegate_id="erin",
                starts=date(2026, 1, 1),
                ends=date(2026, 1, 2),
            ),
            T0,
        )
        assert await approval_policy.revoke_delegation(session, row, T0) is True
        assert (
            await approval_policy.revoke_delegation(session, row, T0 + timedelta(days=1)) is False
        )
    async with sessions() as session:
        stored = await session.get(DelegationRow, "dlg_x")
        assert stored is not None and utc(stored.revoked_at) == T0
        assert (await approval_policy.load_policy(session)).delegations == []


# --- the records -------------------------------------------------------------------------


async def test_a_retried_send_writes_one_request_one_sent_event_and_one_audit_event(
    sessions: SessionFactory,
) -> None:
    invoice_id = await an_invoice(sessions)
    request_id, first = await send(sessions, invoice_id, approver_id="carol", delegated_from="bob")
    _, again = await send(sessions, invoice_id, approver_id="carol", delegated_from="bob")

    assert (first, again) == (True, False)
    assert request_id == f"{invoice_id}:r1:l0:carol"
    async with sessions() as session:
        [request] = await approvals.requests_for(session, invoice_id)
        events = await approvals.link_events_for(session, invoice_id)
        trail = list(
            await session.exec(select(AuditEvent).where(AuditEvent.invoice_id == invoice_id))
        )
    assert (request.status, request.approver_id, request.delegated_from) == ("sent", "carol", "bob")
    assert (request.round, request.level, request.version) == (1, 0, 1)
    assert [(e.request_id, e.event) for e in events] == [(request_id, "sent")]
    assert [(a.action, a.data["delegated_from"]) for a in trail] == [("approval.link_sent", "bob")]


async def test_link_events_are_appended_and_unknown_kinds_refused(sessions: SessionFactory) -> None:
    invoice_id = await an_invoice(sessions)
    request_id, _ = await send(sessions, invoice_id)
    for _ in range(2):  # a mail scanner, then the person: two opens
        async with transaction(sessions) as session:
            await approvals.record_link_event(
                session,
                request_id=request_id,
                event="opened",
                ip="198.51.100.1",
                user_agent="scanner/1.0",
                detail={"version": 1},
            )
    async with transaction(sessions) as session:
        with pytest.raises(ValueError, match="unknown link event"):
            await approvals.record_link_event(
                session,
                request_id=request_id,
                event="clicked",  # type: ignore[arg-type]
                ip=None,
                user_agent=None,
                detail=None,
            )
    async with sessions() as session:
        events = await approvals.link_events_for(session, invoice_id)
    assert [e.event for e in events] == ["sent", "opened", "opened"]
    assert events[1].ip == "198.51.100.1" and events[1].user_agent == "scanner/1.0"
    assert events[1].detail == {"version": 1}


async def test_a_decision_recorded_twice_is_written_once(sessions: SessionFactory) -> None:
    invoice_id = await an_invoice(sessions)
    request_id, _ = await send(sessions, invoice_id)

    assert await decide(sessions, request_id, "reject", "wrong PO number") is True
    assert await decide(sessions, request_id, "reject", "wrong PO number") is False
    assert await decide(sessions, request_id, "approve") is False  # a late, different click

    async with sessions() as session:
        [request] = await approvals.requests_for(session, invoice_id)
        events = await approvals.link_events_for(session, invoice_id)
        decided = list(
            await session.exec(
                select(AuditEvent).where(
                    AuditEvent.step_key == f"{invoice_id}:approval:{request_id}:decided"
                )
            )
        )
    assert (request.status, request.decision, request.reason) == (
        "decided",
        "reject",
        "wrong PO number",
    )
    assert utc(request.decided_at) == T0 + timedelta(hours=2)
    assert [e.event for e in events] == ["sent", "decided"]
    assert events[1].ip == "203.0.113.7" and events[1].user_agent == "Mozilla/5.0"
    [audit_event] = decided
    assert (audit_event.action, audit_event.actor) == ("approval.rejected", "alice")
    assert audit_event.data["reason"] == "wrong PO number"
    assert audit_event.data["ip"] == "203.0.113.7"


async def test_concurrent_decisions_on_one_request_record_exactly_one(
    sessions: SessionFactory,
) -> None:
    invoice_id = await an_invoice(sessions)
    request_id, _ = await send(sessions, invoice_id)
    outcomes = await asyncio.gather(*(decide(sessions, request_id) for _ in range(10)))
    assert sorted(outcomes) == [False] * 9 + [True]
    assert await count(sessions, ApprovalLinkEvent, request_id=request_id, event="decided") == 1


async def test_a_decision_for_an_unknown_request_is_refused(sessions: SessionFactory) -> None:
    with pytest.raises(approvals.UnknownApprovalRequest):
        await decide(sessions, "inv_nothing:r1:l0:alice")


async def test_superseding_a_round_closes_its_open_requests_only(sessions: SessionFactory) -> None:
    invoice_id = await an_invoice(sessions)
    open_one, _ = await send(sessions, invoice_id, approver_id="alice")
    open_two, _ = await send(sessions, invoice_id, approver_id="bob")
    decided, _ = await send(sessions, invoice_id, approver_id="carol")
    assert await decide(sessions, decided, "request_changes", "add the PO number")
    next_round, _ = await send(sessions, invoice_id, round=2, approver_id="alice")

    async with transaction(sessions) as session:
        assert await approvals.supersede_round(session, invoice_id, 1) == 2
    async with transaction(sessions) as session:  # a retried step
        assert await approvals.supersede_round(session, invoice_id, 1) == 0

    async with sessions() as session:
        status = {r.id: r.status for r in await approvals.requests_for(session, invoice_id)}
    assert status == {
        open_one: "superseded",
        open_two: "superseded",
        decided: "decided",
        next_round: "sent",
    }
    assert await decide(sessions, open_one) is False  # a dead link records nothing
    assert await count(sessions, ApprovalRequestRow, invoice_id=invoice_id, status="decided") == 1
    assert await count(sessions, AuditEvent, step_key=f"{invoice_id}:approval:r1:superseded") == 1

    async with transaction(sessions) as session:
        assert await approvals.expire_round(session, invoice_id, 2) == 1
    async with sessions() as session:
        assert [r.status for r in await approvals.requests_for(session, invoice_id)][
            -1
        ] == "expired"


async def test_config_rows_keep_their_json_shape(sessions: SessionFactory) -> None:
    """The stored definition is plain JSON with sorted lists: the same rule, the same row."""
    rule = ApprovalRule(
        id="rule_json",
        description="x",
        regions=frozenset({"NZ", "AU", "GB"}),
        customer_ids=frozenset({"cus_b", "cus_a"}),
        levels=[LevelRule(group_id="g")],
    )
    definition = approval_policy.rule_definition(rule)
    assert definition["regions"] == ["AU", "GB", "NZ"]
    assert definition["customer_ids"] == ["cus_a", "cus_b"]
    assert definition["levels"] == [{"group_id": "g", "quorum": {"kind": "any", "count": None}}]
    async with transaction(sessions) as session:
        session.add(ApproverRow(id="a", name="A", email="a@example.test", created_at=T0))
        await session.flush()
        session.add(ApproverGroupRow(id="g", name="G", members=["a"], created_at=T0))
        first = await approval_policy.add_rule(session, rule, T0)
        second = await approval_policy.add_rule(session, rule.model_copy(update={"id": "r2"}), T0)
    assert (first.position, second.position) == (1, 2)
    async with sessions() as session:
        assert (await approval_policy.load_policy(session)).rules[0] == rule
