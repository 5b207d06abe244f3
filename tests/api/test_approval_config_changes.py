"""Changing the approval configuration on SQLite and PostgreSQL: rules have a currency
scope that is refused when it cannot be evaluated; rules, approvers, groups and
delegations are read, updated (each update a new version, audited) and deactivated."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from schemas.tables import AuditEvent
from tests.api.test_approval_config_api import approver, created, group, rule_body, stack
from tests.api.test_invoices_api import assert_problem
from tests.support.stack import Stack

__all__ = ["stack"]  # the fixture


async def audit_of(stack: Stack, entity: str) -> list[tuple[str, int]]:
    async with stack.sessions() as session:
        rows = await session.exec(
            select(AuditEvent).where(AuditEvent.entity == entity).order_by(col(AuditEvent.id))
        )
        return [(e.action, e.data["version"]) for e in rows]


# --- the currency scope ------------------------------------------------------------------


async def test_a_rule_is_scoped_to_its_thresholds_currency_by_default(stack: Stack) -> None:
    await approver(stack, "Alice", id="alice")
    finance = await group(stack, ["alice"])
    rule = await created(stack, "/approval-rules", rule_body(finance["id"]))
    assert rule["currency"] == "GBP" and rule["currencies"] == ["GBP"]
    anywhere = await created(
        stack,
        "/approval-rules",
        {"description": "Every invoice", "levels": [{"group_id": finance["id"]}]},
    )
    assert anywhere["currencies"] == []  # no threshold: any currency, no rate needed


async def test_a_scope_that_needs_rates_the_policy_lacks_is_refused_and_not_stored(
    stack: Stack,
) -> None:
    await approver(stack, "Alice", id="alice")
    finance = await group(stack, ["alice"])
    for scope in (["GBP", "CAD"], []):  # [] with a threshold: every currency
        refused = await stack.api.post(
            "/approval-rules", json=rule_body(finance["id"], currencies=scope)
        )
        problem = assert_problem(refused, 422, "scope_needs_rates")
        assert "CAD" in problem["detail"] and "CAD" in problem["currencies"]
    assert (await stack.api.get("/approval-rules")).json() == []
    no_threshold = rule_body(finance["id"], min_amount_minor=None, currency=None)
    cad_only = await created(stack, "/approval-rules", {**no_threshold, "currencies": ["CAD"]})
    assert cad_only["currencies"] == ["CAD"]


# --- rules -------------------------------------------------------------------------------


async def test_a_rule_is_read_updated_as_new_versions_and_deactivated(stack: Stack) -> None:
    await approver(stack, "Alice", id="alice")
    finance = await group(stack, ["alice"])
    rule = await created(stack, "/approval-rules", rule_body(finance["id"]))
    path = f"/approval-rules/{rule['id']}"
    assert (await stack.api.get(path)).json() == rule and rule["version"] == 1

    body = rule_body(finance["id"], min_amount_minor=800_000, description="Over 8k")
    replaced = await stack.api.put(path, json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2 and replaced.json()["min_amount_minor"] == 800_000
    assert replaced.json()["position"] == rule["position"]
    again = await stack.api.put(path, json=body)  # the same content is no new version
    assert again.json()["version"] == 2

    patched = await stack.api.patch(path, json={"currency": "EUR", "min_amount_minor": 700_000})
    assert patched.status_code == 200, patched.text
    out = patched.json()
    assert (out["version"], out["currency"], out["currencies"]) == (3, "EUR", ["EUR"])
    assert out["description"] == "Over 8k"  # what was not sent stays

    assert (await stack.api.delete(path)).status_code == 204
    assert (await stack.api.delete(path)).status_code == 204  # a no-op
    gone = (await stack.api.get(path)).json()
    assert gone["active"] is False and gone["version"] == 4
    assert (await stack.api.get("/approval-rules")).json() == []
    listed = (await stack.api.get("/approval-rules", params={"include_inactive": True})).json()
    assert [r["id"] for r in listed] == [rule["id"]]
    assert_problem(await stack.api.put(path, json=body), 409, "deactivated")
    assert await audit_of(stack, "approval_rule") == [
        ("approval_rule.created", 1),
        ("approval_rule.updated", 2),
        ("approval_rule.updated", 3),
        ("approval_rule.deactivated", 4),
    ]


async def test_rule_changes_are_refused_with_problems(stack: Stack) -> None:
    await approver(stack, "Alice", id="alice")
    finance = await group(stack, ["alice"])
    rule = await created(stack, "/approval-rules", rule_body(finance["id"]))
    path = f"/approval-rules/{rule['id']}"
    assert_problem(await stack.api.get("/approval-rules/rule_nope"), 404, "unknown_rule")
    missing = await stack.api.put("/approval-rules/rule_nope", json=rule_body(finance["id"]))
    assert_problem(missing, 404, "unknown_rule")
    assert_problem(await stack.api.delete("/approval-rules/rule_nope"), 404, "unknown_rule")
    bad = await stack.api.patch(path, json={"min_amount_minor": -1})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    unknown = await stack.api.patch(path, json={"levels": [{"group_id": "grp_nope"}]})
    assert_problem(unknown, 422, "unknown_group")
    widened = await stack.api.patch(path, json={"currencies": ["GBP", "USD"]})
    assert_problem(widened, 422, "scope_needs_rates")
    assert (await stack.api.get(path)).json()["version"] == 1


# --- approvers and groups ----------------------------------------------------------------


async def test_an_approver_is_updated_and_deactivated(stack: Stack) -> None:
    await approver(stack, "Alice", id="alice")
    await approver(stack, "Bob", id="bob")
    finance = await group(stack, ["alice", "bob"])
    put = await stack.api.put(
        "/approvers/alice",
        json={"name": "Alice Smith", "email": "alice.smith@example.test", "time_zone": "UTC"},
    )
    assert put.status_code == 200 and put.json()["version"] == 2
    patched = await stack.api.patch("/approvers/alice", json={"time_zone": "Europe/London"})
    assert patched.json()["name"] == "Alice Smith" and patched.json()["version"] == 3
    bad_zone = await stack.api.patch("/approvers/alice", json={"time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert_problem(await stack.api.get("/approvers/nobody"), 404, "unknown_approver")
    assert_problem(
        await stack.api.patch("/approvers/nobody", json={"name": "X"}), 404, "unknown_approver"
    )

    assert (await stack.api.delete("/approvers/bob")).status_code == 204
    assert (await stack.api.get("/approvers/bob")).json()["active"] is False
    assert [a["id"] for a in (await stack.api.get("/approvers")).json()] == ["alice"]
    everyone = await stack.api.get("/approvers", params={"include_inactive": "true"})
    assert [a["id"] for a in everyone.json()] == ["alice", "bob"]
    # the last active member of a group cannot go: the group would be empty
    assert_problem(await stack.api.delete("/approvers/alice"), 422, "inconsistent_policy")
    assert (await stack.api.get(f"/approver-groups/{finance['id']}")).status_code == 200
    assert await audit_of(stack, "approver") == [
        ("approver.created", 1),
        ("approver.created", 1),
        ("approver.updated", 2),
        ("approver.updated", 3),
        ("approver.deactivated", 2),
    ]


async def test_a_group_is_updated_and_deactivated_only_when_no_rule_uses_it(
    stack: Stack,
) -> None:
    for name in ("Alice", "Bob", "Carol"):
        await approver(stack, name, id=name.lower())
    finance = await group(stack, ["alice", "bob"])
    path = f"/approver-groups/{finance['id']}"
    patched = await stack.api.patch(path, json={"members": ["bob", "carol"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["members"] == ["bob", "carol"] and patched.json()["version"] == 2
    unknown = await stack.api.patch(path, json={"members": ["bob", "zed"]})
    assert_problem(unknown, 422, "unknown_approver")
    rule = await created(stack, "/approval-rules", rule_body(finance["id"]))
    in_use = assert_problem(await stack.api.delete(path), 409, "group_in_use")
    assert in_use["rule_ids"] == [rule["id"]]
    assert (await stack.api.delete(f"/approval-rules/{rule['id']}")).status_code == 204
    assert (await stack.api.delete(path)).status_code == 204
    assert (await stack.api.get(path)).json()["active"] is False
    assert (await stack.api.get("/approver-groups")).json() == []
    assert_problem(await stack.api.get("/approver-groups/grp_nope"), 404, "unknown_group")
    reused = await stack.api.post("/approval-rules", json=rule_body(finance["id"]))
    assert_problem(reused, 422, "unknown_group")  # a deactivated group takes no new rule


# --- delegations -------------------------------------------------------------------------


async def test_a_delegation_is_read_updated_and_revoked(stack: Stack) -> None:
    for name in ("Alice", "Bob", "Carol"):
        await approver(stack, name, id=name.lower())
    first: dict[str, Any] = await created(
        stack,
        "/approvers/alice/delegations",
        {"delegate_id": "bob", "starts": "2026-12-01", "ends": "2026-12-10"},
    )
    path = f"/approvers/alice/delegations/{first['id']}"
    assert (await stack.api.get(path)).json() == first
    longer = await stack.api.patch(path, json={"ends": "2026-12-20", "delegate_id": "carol"})
    assert longer.status_code == 200, longer.text
    assert (longer.json()["ends"], longer.json()["delegate_id"]) == ("2026-12-20", "carol")
    assert longer.json()["version"] == 2  # its own dates do not overlap itself
    await created(
        stack,
        "/approvers/alice/delegations",
        {"delegate_id": "bob", "starts": "2027-01-01", "ends": "2027-01-05"},
    )
    overlap = await stack.api.patch(path, json={"ends": "2027-01-02"})
    assert_problem(overlap, 409, "delegation_overlaps")
    backwards = await stack.api.patch(path, json={"ends": "2026-11-01"})
    assert backwards.status_code == 422
    assert_problem(
        await stack.api.get("/approvers/alice/delegations/dlg_nope"), 404, "unknown_delegation"
    )
    assert (await stack.api.delete(path)).status_code == 204
    revoked = (await stack.api.get(path)).json()
    assert revoked["revoked_at"] and revoked["version"] == 3
    assert_problem(await stack.api.patch(path, json={"ends": "2026-12-11"}), 409, "deactivated")
