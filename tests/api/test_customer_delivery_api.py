"""A customer's delivery fields through the API on both engines: time zone, quiet hours and
channel order on creation, read back with the defaults in force, changed with PATCH, and
bad input refused with 422 problem+json before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client

from tests.support.stack import Stack, running_stack

NIGHT_OWL = {"start": "10:00", "end": "22:30", "working_days": [0, 1, 2, 3, 4, 5], "enabled": True}


@pytest.fixture
async def stack(temporal: Client, db_url: str):  # type: ignore[no-untyped-def]
    async with running_stack(temporal, db_url, run_worker=False) as running:
        yield running


async def create(stack: Stack, **fields: Any) -> Any:
    return await stack.api.post(
        "/customers", json={"name": "Harbour Pty", "email": "ap@harbour.test", **fields}
    )


def assert_problem(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


async def test_a_customer_without_delivery_fields_shows_the_defaults_in_force(
    stack: Stack,
) -> None:
    made = (await create(stack)).json()
    assert made["timezone"] == "Europe/London"  # INVOICEFLOW_DEFAULT_TIMEZONE
    assert made["quiet_hours"] is None  # the default window
    assert made["channel_order"] == ["email", "sms"]
    read = (await stack.api.get(f"/customers/{made['id']}")).json()
    assert read == made


async def test_delivery_fields_given_on_creation_are_kept_and_listed(stack: Stack) -> None:
    response = await create(
        stack, timezone="Australia/Sydney", quiet_hours=NIGHT_OWL, channel_order=["sms", "email"]
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["timezone"] == "Australia/Sydney"
    assert made["quiet_hours"] == {**NIGHT_OWL, "start": "10:00:00", "end": "22:30:00"}
    assert made["channel_order"] == ["sms", "email"]
    assert (await stack.api.get(f"/customers/{made['id']}")).json() == made
    [listed] = (await stack.api.get("/customers")).json()["items"]
    assert listed == made


async def test_patch_changes_only_the_fields_given_and_null_goes_back_to_the_default(
    stack: Stack,
) -> None:
    made = (await create(stack, timezone="America/Toronto")).json()
    changed = await stack.api.patch(
        f"/customers/{made['id']}", json={"channel_order": ["sms"], "quiet_hours": NIGHT_OWL}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["timezone"], body["channel_order"]) == ("America/Toronto", ["sms"])
    assert body["quiet_hours"]["working_days"] == [0, 1, 2, 3, 4, 5]

    reset = (
        await stack.api.patch(
            f"/customers/{made['id']}", json={"timezone": None, "quiet_hours": None}
        )
    ).json()
    assert (reset["timezone"], reset["quiet_hours"], reset["channel_order"]) == (
        "Europe/London",
        None,
        ["sms"],
    )
    detail = await stack.api.get(f"/customers/{made['id']}")
    assert detail.json() == reset


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "Europe"}, "timezone"),
        ({"channel_order": ["email", "fax"]}, "channel_order"),
        ({"channel_order": ["email", "email"]}, "channel_order"),
        ({"channel_order": []}, "channel_order"),
        ({"quiet_hours": {"start": "20:00", "end": "08:00"}}, "quiet_hours"),
        ({"quiet_hours": {"working_days": [7]}}, "quiet_hours"),
    ],
)
async def test_bad_delivery_fields_are_refused_on_creation_and_on_patch(
    stack: Stack, fields: dict[str, Any], named: str
) -> None:
    assert_problem(await create(stack, **fields), named)
    assert (await stack.api.get("/customers")).json()["total"] == 0  # nothing written
    made = (await create(stack)).json()
    assert_problem(await stack.api.patch(f"/customers/{made['id']}", json=fields), named)
    assert (await stack.api.get(f"/customers/{made['id']}")).json() == made


async def test_patch_refuses_the_fixed_fields_and_unknown_customers(stack: Stack) -> None:
    made = (await create(stack)).json()
    assert_problem(await stack.api.patch(f"/customers/{made['id']}", json={"name": "X"}), "name")
    missing = await stack.api.patch("/customers/cus_missing", json={"channel_order": ["sms"]})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
