"""Approval set-up through the API, and reading approval links out of the mailbox."""

from __future__ import annotations

import re
from typing import Any

from tests.support.stack import Stack

LINK = re.compile(r'href="(http[^"]*/approvals/[^"]+)"')


async def approver(stack: Stack, approver_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "id": approver_id,
        "name": approver_id.title(),
        "email": f"{approver_id}@corp.test",
        **extra,
    }
    response = await stack.api.post("/approvers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def group(stack: Stack, name: str, members: list[str], backup: str | None = None) -> str:
    body = {"name": name, "members": members, "backup_approver_id": backup}
    response = await stack.api.post("/approver-groups", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def rule(stack: Stack, levels: list[dict[str, Any]], min_amount_minor: int = 100_000) -> str:
    body = {
        "description": "Invoices of GBP 1,000.00 or more",
        "min_amount_minor": min_amount_minor,
        "currency": "GBP",
        "levels": levels,
    }
    response = await stack.api.post("/approval-rules", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def links(stack: Stack, approver_id: str) -> list[str]:
    """Every approval link e-mailed to this approver, oldest first."""
    mail = await stack.mailbox(f"{approver_id}@corp.test")
    return [m.group(1) for message in mail for m in LINK.finditer(message["html"])]


async def wait_for_links(stack: Stack, approver_id: str, count: int = 1) -> list[str]:
    async def enough() -> list[str] | None:
        found = await links(stack, approver_id)
        return found if len(found) >= count else None

    return await stack.wait_for(enough)


async def wait_for_live(stack: Stack, invoice_id: str, **expected: Any) -> dict[str, Any]:
    async def matches() -> dict[str, Any] | None:
        body = await stack.invoice(invoice_id)
        live = body.get("live") or {}
        return body if all(live.get(k) == v for k, v in expected.items()) else None

    return await stack.wait_for(matches)
