"""``invoiceflow approvals``: the approval configuration from the command line, through the
running API (checked, versioned and audited as the API's own changes are)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio.client import Client
from typer.testing import CliRunner, Result

from cli.main import app
from store import api_keys
from store.db import transaction
from tests.support.stack import Stack, running_stack


async def invoke(stack: Stack, key: str, *args: str) -> Result:
    """The CLI in a thread: the API it calls runs on this test's event loop."""
    argv = [*args, "--api-url", stack.api_url, "--api-key", key]
    return await asyncio.to_thread(CliRunner().invoke, app, ["approvals", *argv])


def answer(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


async def test_the_cli_lists_shows_creates_updates_and_deactivates_the_configuration(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:
        async with transaction(stack.sessions) as session:
            _, key = await api_keys.create(session, "ops-cli")
        for person in ("alice", "bob"):
            made = await invoke(
                stack, key, "approvers", "create", "--set", f"id={person}",
                "--set", f"name={person.title()}", "--set", f"email={person}@corp.test",
            )  # fmt: skip
            assert answer(made)["id"] == person
        group = answer(
            await invoke(
                stack, key, "groups", "create", "--json",
                '{"name": "Finance", "members": ["alice", "bob"]}',
            )
        )  # fmt: skip
        rule = answer(
            await invoke(
                stack, key, "rules", "create", "--json",
                json.dumps({"description": "Over 5k", "min_amount_minor": 500000,
                            "currency": "GBP", "levels": [{"group_id": group["id"]}]}),
            )
        )  # fmt: skip
        assert rule["currencies"] == ["GBP"]
        updated = answer(
            await invoke(
                stack, key, "rules", "update", rule["id"], "--set", "min_amount_minor=800000"
            )
        )
        assert (updated["version"], updated["min_amount_minor"]) == (2, 800000)
        assert answer(await invoke(stack, key, "rules", "show", rule["id"]))["version"] == 2
        assert [r["id"] for r in answer(await invoke(stack, key, "rules", "list"))] == [rule["id"]]

        delegated = answer(
            await invoke(
                stack, key, "delegations", "create", "alice", "--set", "delegate_id=bob",
                "--set", "starts=2026-12-20", "--set", "ends=2026-12-31",
            )
        )  # fmt: skip
        moved = await invoke(
            stack,
            key,
            "delegations",
            "update",
            "alice",
            delegated["id"],
            "--set",
            "ends=2027-01-02",
        )
        assert answer(moved)["ends"] == "2027-01-02"

        refused = await invoke(
            stack, key, "rules", "update", rule["id"], "--set", 'currencies=["GBP","CAD"]'
        )
        assert refused.exit_code == 1 and "scope_needs_rates" in refused.output
        gone = await invoke(stack, key, "rules", "deactivate", rule["id"])
        assert gone.exit_code == 0 and "done" in gone.output
        assert answer(await invoke(stack, key, "rules", "list")) == []
        listed = answer(await invoke(stack, key, "rules", "list", "--all"))
        assert [(r["id"], r["active"]) for r in listed] == [(rule["id"], False)]
        unknown = await invoke(stack, key, "groups", "show", "grp_nope")
        assert unknown.exit_code == 1 and "404" in unknown.output
