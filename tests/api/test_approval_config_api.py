"""The approval configuration API on SQLite and PostgreSQL: approvers, groups, rules and
delegations are created with clear refusals for what does not resolve, replayed under an
Idempotency-Key, and come back from `load_policy` as they were posted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import func, select
from temporalio.client import Client

from domain.approval import (
    ApprovalPolicy,
    ApprovalRule,
    Approver,
    ApproverGroup,
    Delegation,
    LevelRule,
    Quorum,
)
from schemas.tables import ApprovalRuleRow, ApproverGroupRow, ApproverRow, DelegationRow
from store import approval_policy
from tests.api.test_invoices_api import assert_problem
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(temporal: Client, db_url: str) -> AsyncIterator[Stack]:
    # configuration needs no worker
    async with running_stack(temporal, db_url, run_worker=False) as running:
        yield running


async def rows(stack: Stack, table: type) -> int:
    async with stack.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def policy(stack: Stack) -> ApprovalPolicy:
    async with stack.sessions() as session:
        return await approval_policy.load_policy(session)


async def created(stack: Stack, path: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await stack.api.post(path, json=body, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()


async def approver(stack: Stack, name: str, **body: Any) -> dict[str, Any]:
    return await created(
        stack, "/approvers", {"name": name, "email": f"{name.lower()}@example.test", **body}
    )


async def group(stack: Stack, members: list[str], **body: Any) -> dict[str, Any]:
    return await created(stack, "/approver-groups", {"name": "Finance", "members": members, **body})


def rule_body(group_id: str, **change: Any) -> dict[str, Any]:
    return {
        "description": "Invoices of GBP 5,000.00 or more",
        "document_types": ["invoice"],
        "min_amount_minor": 500_000,
        "currency": "GBP",
        "levels": [{"group_id": group_id, "quorum": {"kind": "any"}}],
        **change,
    }


# --- approvers ---------------------------------------------------------------------------


async def test_approvers_are_created_listed_and_read(stack: Stack) -> None:
    response = await stack.api.post(
        "/approvers",
        json={"name": "Alice", "email": "alice@example.test", "time_zone": "Europe/London"},
    )
    assert response.status_code == 201, response.text
    alice = response.json()
    assert alice["id"].startswith("apr_") and alice["active"] is True
    assert response.headers["Location"] == f"/approvers/{alice['id']}"
    bob = await approver(stack, "Bob", id="bob@acme.test")  # the upstream app's user id
    assert bob["id"] == "bob@acme.test" and bob["time_zone"] == "UTC"

    listed = (await stack.api.get("/approvers")).json()
    assert [a["id"] for a in listed] == [alice["id"], "bob@acme.test"]
    assert (await stack.api.get(f"/approvers/{alice['id']}")).json() == alice
    assert_problem(await stack.api.get("/approvers/nobody"), 404, "unknown_approver")


async def test_an_approver_with_bad_fields_is_refused_and_not_stored(stack: Stack) -> None:
    body = {"name": "Alice", "email": "alice@example.test", "time_zone": "UTC"}
    for change in (
        {"time_zone": "Europe/Londres"},
        {"time_zone": "../etc/passwd"},
        {"time_zone": "Europe"},  # a folder of the tz database
        {"time_zone": "A" * 300},  # a name too long for the file system
        {"time_zone": ""},
        {"email": "not-an-address"},
        {"id": "has:colon"},
        {"name": ""},
    ):
        response = await stack.api.post("/approvers", json={**body, **change})
        assert_problem(response, 422, "validation_failed")
    assert await rows(stack, ApproverRow) == 0


async def test_an_approver_id_is_taken_once(stack: Stack) -> None:
    await approver(stack, "Alice", id="alice")
    again = await stack.api.post(
        "/approvers", json={"name": "A2", "email": "a2@x.test", "id": "alice"}
    )
    assert_problem(again, 409, "approver_exists")
    assert await rows(stack, ApproverRow) == 1


# --- groups ------------------------------------------------------------------------------


async def test_a_group_of_known_approvers_is_created(stack: Stack) -> None:
    alice, bob, carol = [await approver(stack, n) for n in ("Alice", "Bob", "Carol")]
    response = await stack.api.post(
        "/approver-groups",
        json={
            "name": "Finance",
            "members": [alice["id"], bob["id"]],
            "backup_approver_id": carol["id"],
        },
    )
    assert response.status_code == 201, response.text
    finance = response.json()
    assert finance["members"] == [alice["id"], bob["id"]]
    assert finance["backup_approver_id"] == carol["id"]
    assert response.headers["Location"] == f"/approver-groups/{finance['id']}"
    assert (await stack.api.get("/approver-groups")).json() == [finance]


async def test_a_group_naming_an_unknown_approver_or_no_distinct_members_is_refused(
    stack: Stack,
) -> None:
    alice = await approver(stack, "Alice")
    for body in (
        {"name": "Finance", "members": [alice["id"], "apr_ghost"]},
        {"name": "Finance", "members": [alice["id"]], "backup_approver_id": "apr_ghost"},
    ):
        response = await stack.api.post("/approver-groups", json=body)
        problem = assert_problem(response, 422, "unknown_approver")
        assert problem["approver_ids"] == ["apr_ghost"]
    for members in ([], [alice["id"], alice["id"]]):
        response = await stack.api.post("/approver-groups", json={"name": "G", "members": members})
        assert_problem(response, 422, "validation_failed")
    assert await rows(stack, ApproverGroupRow) == 0


# --- rules -------------------------------------------------------------------------------


async def test_rules_are_created_and_listed_in_the_order_they_were_added(stack: Stack) -> None:
    alice, bob = await approver(stack, "Alice"), await approver(stack, "Bob")
    finance = await group(stack, [alice["id"], bob["id"]])
    customer, _ = await customer_and_contract(stack)
    first = await created(
        stack,
        "/approval-rules",
        rule_body(
            finance["id"],
            customer_ids=[customer["id"]],
            regions=["GB", "CA-QC"],
            levels=[{"group_id": finance["id"], "quorum": {"kind": "count", "count": 2}}],
        ),
    )
    assert first["position"] == 1 and first["regions"] == ["CA-QC", "GB"]
    assert first["levels"] == [{"group_id": finance["id"], "quorum": {"kind": "count", "count": 2}}]
    second = await created(
        stack,
        "/approval-rules",
        {
            "description": "Every credit note",
            "document_types": ["credit_note"],
            "levels": [{"group_id": finance["id"]}],
        },
    )
    assert second["position"] == 2 and second["min_amount_minor"] is None
    assert second["levels"][0]["quorum"] == {"kind": "any", "count": None}
    listed = (await stack.api.get("/approval-rules")).json()
    assert listed == [first, second]


async def test_a_rule_that_does_not_resolve_is_refused_and_not_stored(stack: Stack) -> None:
    a, b = await approver(stack, "A"), await approver(stack, "B")
    finance = (await group(stack, [a["id"], b["id"]]))["id"]

    def quorum(**q: Any) -> dict[str, Any]:
        return {"levels": [{"group_id": finance, "quorum": q}]}

    for change, code in (
        ({"levels": [{"group_id": "grp_ghost"}]}, "unknown_group"),
        (quorum(kind="count", count=3), "invalid_quorum"),  # the group has 2 members
        (quorum(kind="count", count=0), "validation_failed"),
        (quorum(kind="count"), "validation_failed"),
        (quorum(kind="any", count=1), "validation_failed"),
        (quorum(kind="most"), "validation_failed"),
        ({"levels": []}, "validation_failed"),
        ({"currency": None}, "validation_failed"),  # a threshold needs its currency
        ({"currency": "ZZZ"}, "validation_failed"),
        ({"regions": ["XX"]}, "validation_failed"),
        ({"document_types": ["receipt"]}, "validation_failed"),
        ({"min_amount_minor": -1}, "validation_failed"),
        ({"customer_ids": ["cus_ghost"]}, "unknown_customer"),
    ):
        response = await stack.api.post("/approval-rules", json=rule_body(finance, **change))
        assert_problem(response, 422, code)
    assert await rows(stack, ApprovalRuleRow) == 0
    # the same group with a quorum it can meet is fine
    await created(stack, "/approval-rules", rule_body(finance, **quorum(kind="count", count=2)))


# --- delegations -------------------------------------------------------------------------


async def test_a_delegation_is_created_listed_and_revoked(stack: Stack) -> None:
    alice, bob = await approver(stack, "Alice"), await approver(stack, "Bob")
    path = f"/approvers/{alice['id']}/delegations"
    response = await stack.api.post(
        path, json={"delegate_id": bob["id"], "starts": "2026-12-20", "ends": "2026-12-31"}
    )
    assert response.status_code == 201, response.text
    delegation = response.json()
    assert response.headers["Location"] == f"{path}/{delegation['id']}"
    assert (delegation["approver_id"], delegation["delegate_id"]) == (alice["id"], bob["id"])
    assert delegation["revoked_at"] is None
    assert (await policy(stack)).delegations == [
        Delegation(
            approver_id=alice["id"],
            delegate_id=bob["id"],
            starts=date(2026, 12, 20),
            ends=date(2026, 12, 31),
        )
    ]

    revoked = await stack.api.delete(f"{path}/{delegation['id']}")
    assert revoked.status_code == 204 and revoked.content == b""
    assert (await stack.api.delete(f"{path}/{delegation['id']}")).status_code == 204
    [listed] = (await stack.api.get(path)).json()
    assert listed["id"] == delegation["id"] and listed["revoked_at"] is not None
    assert (await policy(stack)).delegations == []
    # revoked, it no longer blocks a new delegation for the same days
    await created(
        stack, path, {"delegate_id": bob["id"], "starts": "2026-12-24", "ends": "2026-12-26"}
    )
    assert_problem(await stack.api.delete(f"{path}/dlg_ghost"), 404, "unknown_delegation")
    elsewhere = f"/approvers/{bob['id']}/delegations/{delegation['id']}"
    assert_problem(await stack.api.delete(elsewhere), 404, "unknown_delegation")


async def test_a_delegation_that_cannot_apply_is_refused_and_not_stored(stack: Stack) -> None:
    alice, bob = await approver(stack, "Alice"), await approver(stack, "Bob")
    path = f"/approvers/{alice['id']}/delegations"
    await created(
        stack, path, {"delegate_id": bob["id"], "starts": "2026-12-20", "ends": "2026-12-31"}
    )
    body = {"delegate_id": bob["id"], "starts": "2027-02-01", "ends": "2027-02-05"}
    for change, status, code in (
        ({"delegate_id": alice["id"]}, 422, "self_delegation"),
        ({"starts": "2027-02-05", "ends": "2027-02-04"}, 422, "validation_failed"),
        ({"delegate_id": "apr_ghost"}, 422, "unknown_approver"),
        ({"starts": "2026-12-31", "ends": "2027-01-02"}, 409, "delegation_overlaps"),
        ({"starts": "2026-12-01", "ends": "2027-01-31"}, 409, "delegation_overlaps"),
    ):
        assert_problem(await stack.api.post(path, json={**body, **change}), status, code)
    assert await rows(stack, DelegationRow) == 1
    # the day after the existing one ends is free
    await created(stack, path, {**body, "starts": "2027-01-01"})


async def test_a_delegation_for_an_unknown_approver_is_404(stack: Stack) -> None:
    bob = await approver(stack, "Bob")
    response = await stack.api.post(
        "/approvers/apr_ghost/delegations",
        json={"delegate_id": bob["id"], "starts": "2026-12-20", "ends": "2026-12-31"},
    )
    assert_problem(response, 404, "unknown_approver")
    assert await rows(stack, DelegationRow) == 0


# --- idempotency and auth ----------------------------------------------------------------


async def test_an_idempotency_key_replays_the_first_answer(stack: Stack) -> None:
    body = {"name": "Alice", "email": "alice@example.test", "time_zone": "Australia/Sydney"}
    headers = {"Idempotency-Key": "approver-alice"}
    first = await stack.api.post("/approvers", json=body, headers=headers)
    again = await stack.api.post("/approvers", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert await rows(stack, ApproverRow) == 1

    changed = {**body, "time_zone": "Pacific/Auckland"}
    assert_problem(
        await stack.api.post("/approvers", json=changed, headers=headers),
        422,
        "idempotency_key_reused",
    )

    alice = first.json()["id"]
    group_headers = {"Idempotency-Key": "group-1"}
    one = await created(
        stack, "/approver-groups", {"name": "G", "members": [alice]}, headers=group_headers
    )
    two = await created(
        stack, "/approver-groups", {"name": "G", "members": [alice]}, headers=group_headers
    )
    assert one == two and await rows(stack, ApproverGroupRow) == 1
    rule_headers = {"Idempotency-Key": "rule-1"}
    one = await created(stack, "/approval-rules", rule_body(one["id"]), headers=rule_headers)
    two = await created(stack, "/approval-rules", rule_body(two["id"]), headers=rule_headers)
    assert one == two and await rows(stack, ApprovalRuleRow) == 1


async def test_configuration_needs_an_api_key(stack: Stack) -> None:
    for method, path in (("GET", "/approvers"), ("POST", "/approvers"), ("GET", "/approval-rules")):
        response = await stack.api.request(method, path, headers={"Authorization": "Bearer nope"})
        assert_problem(response, 401, "invalid_api_key")


# --- the whole policy --------------------------------------------------------------------


async def test_a_policy_built_through_the_api_comes_back_from_load_policy(stack: Stack) -> None:
    alice = await approver(stack, "Alice", id="alice", time_zone="Europe/London")
    bob = await approver(stack, "Bob", id="bob", time_zone="America/Toronto")
    carol = await approver(stack, "Carol", id="carol", time_zone="Australia/Sydney")
    finance = await group(stack, ["alice", "bob"], backup_approver_id="carol")
    directors = await created(
        stack, "/approver-groups", {"name": "Directors", "members": ["carol"]}
    )
    customer, _ = await customer_and_contract(stack)
    big = rule_body(
        finance["id"],
        customer_ids=[customer["id"]],
        regions=["GB"],
        requires_po_variance=True,
        levels=[
            {"group_id": finance["id"], "quorum": {"kind": "all"}},
            {"group_id": directors["id"], "quorum": {"kind": "count", "count": 1}},
        ],
    )
    big_rule = await created(stack, "/approval-rules", big)
    credit: dict[str, Any] = {
        "description": "Every credit note",
        "document_types": ["credit_note"],
        "levels": [{"group_id": finance["id"]}],
    }
    credit_rule = await created(stack, "/approval-rules", credit)
    await created(
        stack,
        "/approvers/alice/delegations",
        {"delegate_id": "carol", "starts": "2026-12-20", "ends": "2026-12-31"},
    )

    expected = ApprovalPolicy(
        rules=[
            # scoped to its threshold's currency by default
            ApprovalRule.model_validate({"id": big_rule["id"], **big, "currencies": ["GBP"]}),
            ApprovalRule.model_validate({"id": credit_rule["id"], **credit}),
        ],
        groups=[
            ApproverGroup(
                id=finance["id"],
                name="Finance",
                members=["alice", "bob"],
                backup_approver_id="carol",
            ),
            ApproverGroup(id=directors["id"], name="Directors", members=["carol"]),
        ],
        approvers=[
            Approver(id=a["id"], name=a["name"], email=a["email"], time_zone=a["time_zone"])
            for a in (alice, bob, carol)
        ],
        delegations=[
            Delegation(
                approver_id="alice",
                delegate_id="carol",
                starts=date(2026, 12, 20),
                ends=date(2026, 12, 31),
            )
        ],
    )
    loaded = await policy(stack)
    assert loaded == expected
    assert loaded.rules[0].levels == [
        LevelRule(group_id=finance["id"], quorum=Quorum(kind="all")),
        LevelRule(group_id=directors["id"], quorum=Quorum(kind="count", count=1)),
    ]
