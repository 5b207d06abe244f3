"""Approval by link, end to end on a real Temporal server: GET shows, POST decides once,
and every wrong click is refused before it reaches the workflow's history."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

from core.links import APPROVAL_SALT, ApprovalLink, approval_url, read_approval_token
from schemas import search_attributes as sa
from schemas.approval import DecideInput, DecideResult
from schemas.tables import ApprovalLinkEvent
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import approver, group, links, rule, wait_for_links, wait_for_live
from tests.support.stack import Stack, running_stack


async def finance_policy(stack: Stack) -> None:
    for person in ("alice", "bob", "carol"):
        await approver(stack, person)
    finance = await group(stack, "Finance", ["alice", "bob"], backup="carol")
    await rule(stack, [{"group_id": finance, "quorum": {"kind": "any"}}])


async def big_invoice(stack: Stack, email: str, **extra: Any) -> str:
    customer, contract = await customer_and_contract(stack, email=email)
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "items": [{"rate_code": "senior", "quantity": "10"}],
            **extra,
        },
    )  # 1,200.00 + VAT 240.00 = 1,440.00: over the 1,000.00 threshold
    assert response.status_code == 202, response.text
    return response.json()["invoice_id"]


async def update_events(stack: Stack, invoice_id: str) -> int:
    history = await stack.temporal.get_workflow_handle(f"invoice-{invoice_id}").fetch_history()
    return sum(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        for e in history.events
    )


async def test_invoice_over_threshold_is_issued_only_after_an_approver_clicks_approve(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "big@acme.test")
        await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL")
        alice_link = (await wait_for_links(stack, "alice"))[0]
        assert await wait_for_links(stack, "bob")
        assert await links(stack, "carol") == []  # the backup only on escalation
        assert await stack.mailbox("big@acme.test") == []  # not sent to the customer yet

        async with httpx.AsyncClient(headers={"User-Agent": "pytest-browser"}) as browser:
            for _ in range(3):  # a mail scanner prefetching the link changes nothing
                page = await browser.get(alice_link)
                assert page.status_code == 200 and "Approve" in page.text
            live = (await stack.invoice(invoice_id))["live"]
            assert live["status"] == "AWAITING_APPROVAL" and live["approval"]["decisions"] == []

            decided = await browser.post(alice_link, data={"decision": "approve"})
            assert decided.status_code == 200, decided.text
            assert "Approved" in decided.text
            issued = await stack.wait_for_status(invoice_id, "ISSUED")  # stored and live
            assert issued["live"]["status"] == "ISSUED"
            await stack.wait_until_awaiting_payment(invoice_id)
            assert len(await stack.mailbox("big@acme.test")) == 1

            again = await browser.post(alice_link, data={"decision": "approve"})
            assert again.status_code == 409 and "already been decided" in again.text
            bob_link = (await links(stack, "bob"))[0]
            late = await browser.post(bob_link, data={"decision": "reject", "reason": "too late"})
            assert late.status_code == 409
        assert await update_events(stack, invoice_id) == 1  # refused clicks left no trace

        async with stack.sessions() as session:
            events = (await session.exec(select(ApprovalLinkEvent))).all()
        opened = [e for e in events if e.event == "opened"]
        assert len(opened) == 3 and opened[0].user_agent == "pytest-browser" and opened[0].ip
        assert {e.event for e in events} >= {"sent", "opened", "decided", "refused"}
        trail = [e["action"] for e in (await stack.invoice(invoice_id))["audit"]]
        assert trail.index("approval.approved") < trail.index("invoice.delivered")


async def test_tampered_and_expired_links_are_refused_without_an_update(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "tamper@acme.test")
        link = (await wait_for_links(stack, "alice"))[0]
        base, token = link.rsplit("/", 1)
        secret = stack.settings.link_signing_secret.get_secret_value()
        claims = read_approval_token(secret, token, 3600)

        class Past(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - stack.settings.approval_link_max_age_s - 60

        stale = URLSafeTimedSerializer(secret, salt=APPROVAL_SALT, signer=Past).dumps(
            claims.model_dump()
        )
        async with httpx.AsyncClient() as browser:
            tampered = await browser.post(f"{base}/{token[:-3]}abc", data={"decision": "approve"})
            assert tampered.status_code == 400
            expired = await browser.post(f"{base}/{stale}", data={"decision": "approve"})
            assert expired.status_code == 410
            assert (await browser.get(f"{base}/{stale}")).status_code == 410
            forged = approval_url(stack.api_url, "not-our-secret", claims)
            assert (await browser.post(forged, data={"decision": "approve"})).status_code == 400
        assert await update_events(stack, invoice_id) == 0
        assert (await stack.invoice(invoice_id))["live"]["status"] == "AWAITING_APPROVAL"


async def test_fifty_concurrent_clicks_on_one_link_make_exactly_one_decision(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "race@acme.test")
        link = (await wait_for_links(stack, "alice"))[0]
        async with httpx.AsyncClient(timeout=30) as browser:
            answers = await asyncio.gather(
                *(browser.post(link, data={"decision": "approve"}) for _ in range(50))
            )
        codes = sorted(a.status_code for a in answers)
        # 409: already decided; 503: a click Temporal could not confirm in time under load,
        # told so honestly ("open the link again"), which decided nothing
        assert codes.count(200) == 1 and codes.count(409) + codes.count(503) == 49, codes
        assert all("link again" in a.text for a in answers if a.status_code == 503)
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert len(issued["live"]["approval"]["decisions"]) == 1


async def test_a_valid_link_of_one_approver_cannot_decide_another_level(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        for person in ("alice", "dave"):
            await approver(stack, person)
        finance = await group(stack, "Finance", ["alice"])
        directors = await group(stack, "Directors", ["dave"])
        await rule(stack, [{"group_id": finance}, {"group_id": directors}])
        invoice_id = await big_invoice(stack, "levels@acme.test")
        alice_link = (await wait_for_links(stack, "alice"))[0]
        secret = stack.settings.link_signing_secret.get_secret_value()
        claims = read_approval_token(secret, alice_link.rsplit("/", 1)[1], 3600)
        # alice's own, validly signed link, pointed at the directors' level
        for_level_two = approval_url(stack.api_url, secret, claims.model_copy(update={"level": 1}))
        async with httpx.AsyncClient() as browser:
            wrong = await browser.post(for_level_two, data={"decision": "approve"})
            assert wrong.status_code == 403 and "not yours" in wrong.text
            assert (await browser.post(alice_link, data={"decision": "approve"})).status_code == 200
            live = await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL")
            assert live["live"]["approval"]["level"] == 2
            dave_link = (await wait_for_links(stack, "dave"))[0]
            assert (await browser.post(dave_link, data={"decision": "approve"})).status_code == 200
        await stack.wait_until_awaiting_payment(invoice_id)


async def test_creator_of_an_invoice_is_not_asked_and_cannot_approve_it(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "sod@acme.test", created_by="alice")
        bob_link = (await wait_for_links(stack, "bob"))[0]
        assert await links(stack, "alice") == []
        secret = stack.settings.link_signing_secret.get_secret_value()
        bob_claims = read_approval_token(secret, bob_link.rsplit("/", 1)[1], 3600)
        as_alice = ApprovalLink(**{**bob_claims.model_dump(), "approver_id": "alice"})
        async with httpx.AsyncClient() as browser:
            refused = await browser.post(
                approval_url(stack.api_url, secret, as_alice), data={"decision": "approve"}
            )
            assert refused.status_code == 403
            assert (await browser.post(bob_link, data={"decision": "approve"})).status_code == 200
        await stack.wait_until_awaiting_payment(invoice_id)


async def test_rejected_invoice_is_corrected_and_old_links_are_dead(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "fixme@acme.test")
        first = (await wait_for_links(stack, "alice"))[0]
        async with httpx.AsyncClient() as browser:
            no_reason = await browser.post(first, data={"decision": "reject"})
            assert no_reason.status_code == 422
            rejected = await browser.post(
                first, data={"decision": "reject", "reason": "8 hours, not 10"}
            )
            assert rejected.status_code == 200
            sent_back = await wait_for_live(stack, invoice_id, status="CHANGES_REQUESTED")
            assert "8 hours, not 10" in sent_back["live"]["waiting_for"]

            corrected = await stack.api.put(
                f"/invoices/{invoice_id}/lines",
                json={"items": [{"rate_code": "senior", "quantity": "8"}], "changed_by": "erin"},
            )
            assert corrected.status_code == 202, corrected.text
            await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL", version=2)
            second = (await wait_for_links(stack, "alice", count=2))[1]
            stale = await browser.post(first, data={"decision": "approve"})
            assert stale.status_code == 409 and "changed since this link was sent" in stale.text
            assert (await browser.post(second, data={"decision": "approve"})).status_code == 200
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["invoice"]["total_minor"] == 115200  # 8 x 120.00 + 20% VAT
        mail = await stack.mailbox("fixme@acme.test")
        assert len(mail) == 1 and "£1,152.00" in mail[0]["html"]
        again = await stack.api.put(
            f"/invoices/{invoice_id}/lines",
            json={"items": [{"rate_code": "senior", "quantity": "1"}], "changed_by": "erin"},
        )
        assert again.status_code == 409 and again.json()["code"] == "not_correctable"


async def test_invoice_below_every_threshold_needs_no_approval(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        customer, contract = await customer_and_contract(stack, email="small@acme.test")
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        issued = await stack.wait_until_awaiting_payment(response.json()["invoice_id"])
        assert issued["live"]["approval"] is None
        assert await links(stack, "alice") == []


async def test_link_pages_answer_json_for_upstream_apps(temporal: Client, sqlite_url: str) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "json@acme.test")
        link = (await wait_for_links(stack, "bob"))[0]
        headers = {"Accept": "application/json"}
        async with httpx.AsyncClient(headers=headers) as app:
            shown = await app.get(link)
            assert shown.status_code == 200
            assert shown.json()["invoice"]["total_minor"] == 144000
            assert shown.json()["approval"]["waiting_on"] == ["Alice", "Bob"]
            decided = await app.post(link, json={"decision": "request_changes", "reason": "add PO"})
            assert decided.status_code == 200 and decided.json()["code"] == "changes_requested"
            again = await app.post(link, json={"decision": "approve"})
            assert again.status_code == 409 and again.json()["code"] == "already_decided"
            assert again.json()["earlier"]["approver_id"] == "bob"
            bad = await app.post(link, json={"decision": "maybe"})
            assert bad.status_code == 422
        await wait_for_live(stack, invoice_id, status="CHANGES_REQUESTED")


async def test_delegated_approval_goes_to_the_delegate_and_the_trail_says_so(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        for person in ("alice", "erin"):
            await approver(stack, person)
        finance = await group(stack, "Finance", ["alice"])
        await rule(stack, [{"group_id": finance}])
        today = datetime.now(UTC).date()
        delegated = await stack.api.post(
            "/approvers/alice/delegations",
            json={
                "delegate_id": "erin",
                "starts": today.isoformat(),
                "ends": (today + timedelta(days=7)).isoformat(),
            },
        )
        assert delegated.status_code == 201, delegated.text
        invoice_id = await big_invoice(stack, "holiday@acme.test")
        erin_link = (await wait_for_links(stack, "erin"))[0]
        assert await links(stack, "alice") == []
        mail = (await stack.mailbox("erin@corp.test"))[0]
        assert "delegate of alice" in mail["html"]
        async with httpx.AsyncClient() as browser:
            assert (await browser.post(erin_link, data={"decision": "approve"})).status_code == 200
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        sent = [e for e in issued["audit"] if e["action"] == "approval.link_sent"]
        assert sent and sent[0]["data"]["delegated_from"] == "alice"


async def test_policy_that_cannot_be_met_waits_for_an_operator_and_never_issues_alone(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await approver(stack, "alice")
        finance = await group(stack, "Finance", ["alice"])
        await rule(stack, [{"group_id": finance}])
        # alice created it, and she is the only approver: separation of duties leaves nobody
        invoice_id = await big_invoice(stack, "blocked@acme.test", created_by="alice")
        blocked = await stack.wait_for_status(invoice_id, "APPROVAL_EXPIRED")
        assert "approval policy cannot be met" in blocked["live"]["waiting_for"]
        assert await links(stack, "alice") == []
        assert await stack.mailbox("blocked@acme.test") == []

        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        answer = await handle.execute_update(
            "decide",
            DecideInput(operator="ops-olga", decision="approve", reason="CFO approved by phone"),
            result_type=DecideResult,
        )
        assert answer.outcome == "chain_complete"
        issued = await stack.wait_for_status(invoice_id, "ISSUED")
        await stack.wait_until_awaiting_payment(invoice_id)
        actions = [(e["action"], e["actor"]) for e in issued["audit"]]
        assert ("approval.approved", "operator:ops-olga") in actions
        # once issued, a further operator decision is refused before it reaches history
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                "decide",
                DecideInput(operator="ops-olga", decision="reject", reason="too late"),
                result_type=DecideResult,
            )
        assert await update_events(stack, invoice_id) == 1


async def test_a_bouncing_approver_mailbox_flags_the_invoice_and_the_others_can_still_approve(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await approver(stack, "alice", email="bounce+alice@corp.test")  # refused at RCPT: 550
        await approver(stack, "bob")
        finance = await group(stack, "Finance", ["alice", "bob"])
        await rule(stack, [{"group_id": finance, "quorum": {"kind": "any"}}])
        invoice_id = await big_invoice(stack, "bounce-approver@acme.test")

        bob_link = (await wait_for_links(stack, "bob"))[0]  # sent although alice's bounced

        async def flagged() -> dict[str, Any] | None:
            live = (await stack.invoice(invoice_id)).get("live") or {}
            return live if (live.get("approval") or {}).get("undelivered") else None

        live = await stack.wait_for(flagged)
        assert live["status"] == "AWAITING_APPROVAL"  # the process goes on
        assert list(live["approval"]["undelivered"]) == ["alice"]
        assert "550" in live["approval"]["undelivered"]["alice"]
        assert "could not be e-mailed to Alice" in live["waiting_for"]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        described = await handle.describe()
        assert described.typed_search_attributes.get(sa.EXCEPTION_REASON) == (
            "approval_delivery_failed"
        )

        async with httpx.AsyncClient() as browser:
            decided = await browser.post(bob_link, data={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        await stack.wait_until_awaiting_payment(invoice_id)
        described = await handle.describe()
        assert described.typed_search_attributes.get(sa.EXCEPTION_REASON) is None  # cleared


async def test_a_correction_ends_a_policy_block_and_the_corrected_invoice_meets_the_policy(
    temporal: Client, sqlite_url: str
) -> None:
    """Blocked (alice created it and is the only approver); the requester corrects the
    lines below the threshold: no operator is needed, and the corrected lines are issued."""
    async with running_stack(temporal, sqlite_url) as stack:
        await approver(stack, "alice")
        finance = await group(stack, "Finance", ["alice"])
        await rule(stack, [{"group_id": finance}])
        invoice_id = await big_invoice(stack, "blocked-corrected@acme.test", created_by="alice")
        blocked = await stack.wait_for_status(invoice_id, "APPROVAL_EXPIRED")
        assert "or the invoice is corrected" in blocked["live"]["waiting_for"]

        corrected = await stack.api.put(
            f"/invoices/{invoice_id}/lines",
            json={"items": [{"rate_code": "senior", "quantity": "2"}], "changed_by": "bob"},
        )
        assert corrected.status_code == 202, corrected.text

        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["total_minor"] == 28_800  # 2 x 120.00 + VAT: the new lines
        assert [line["quantity"] for line in issued["lines"]] == ["2"]
        assert await links(stack, "alice") == []
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        assert (await handle.describe()).typed_search_attributes.get(sa.EXCEPTION_REASON) is None
