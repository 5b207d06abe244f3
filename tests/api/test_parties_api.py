"""Customers and contracts as an upstream app lists them, and timestamps as RFC 3339 with
their offset on every engine."""

from __future__ import annotations

import re

import pytest
from temporalio.client import Client

from tests.e2e.test_lifecycle import RATES, customer_and_contract
from tests.support.stack import Stack, running_stack

RFC3339_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
async def stack(temporal: Client, db_url: str):  # type: ignore[no-untyped-def]
    async with running_stack(temporal, db_url, run_worker=False) as running:
        yield running


async def test_customers_are_listed_newest_first_with_filters_and_paging(stack: Stack) -> None:
    made = []
    for name in ("Acme Ltd", "Bolt & Sons", "ACME Trading"):
        response = await stack.api.post(
            "/customers", json={"name": name, "email": f"ap@{name[:4].lower()}.test"}
        )
        assert response.status_code == 201
        made.append(response.json())
    page = (await stack.api.get("/customers", params={"limit": 2})).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
    assert [c["name"] for c in page["items"]] == ["ACME Trading", "Bolt & Sons"]
    rest = (await stack.api.get("/customers", params={"limit": 2, "offset": 2})).json()
    assert [c["id"] for c in rest["items"]] == [made[0]["id"]]
    acme = (await stack.api.get("/customers", params={"name": "acme"})).json()
    assert sorted(c["name"] for c in acme["items"]) == ["ACME Trading", "Acme Ltd"]
    # a LIKE wildcard in the filter is a plain character
    assert (await stack.api.get("/customers", params={"name": "%"})).json()["total"] == 0
    by_mail = (await stack.api.get("/customers", params={"email": "AP@BOLT.test"})).json()
    assert [c["name"] for c in by_mail["items"]] == ["Bolt & Sons"]
    refused = await stack.api.get("/customers", params={"limit": 0})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_contracts_are_listed_by_customer_currency_and_validity(stack: Stack) -> None:
    customer, current = await customer_and_contract(stack, valid_to="2026-12-31")
    ended = await stack.api.post(
        "/contracts",
        json={
            "customer_id": customer["id"],
            "currency": "EUR",
            "tax_region": "GB",
            "payment_terms_days": 14,
            "rates": RATES,
            "valid_to": "2025-12-31",
        },
    )
    assert ended.status_code == 201, ended.text
    theirs = (await stack.api.get("/contracts", params={"customer_id": customer["id"]})).json()
    assert theirs["total"] == 2
    euro = (await stack.api.get("/contracts", params={"currency": "EUR"})).json()
    assert [c["id"] for c in euro["items"]] == [ended.json()["id"]]
    in_force = (
        await stack.api.get(
            "/contracts", params={"customer_id": customer["id"], "valid_on": "2026-06-01"}
        )
    ).json()
    assert [c["id"] for c in in_force["items"]] == [current["id"]]
    bad = await stack.api.get("/contracts", params={"currency": "euro"})
    assert bad.status_code == 422


async def test_every_timestamp_carries_its_offset_on_create_and_on_read(stack: Stack) -> None:
    customer, contract = await customer_and_contract(stack)
    read_customer = (await stack.api.get(f"/customers/{customer['id']}")).json()
    read_contract = (await stack.api.get(f"/contracts/{contract['id']}")).json()
    listed = (await stack.api.get("/customers")).json()["items"][0]
    for value in (
        customer["created_at"],
        read_customer["created_at"],
        contract["created_at"],
        read_contract["created_at"],
        listed["created_at"],
    ):
        assert RFC3339_WITH_OFFSET.match(value), value
    assert read_customer["created_at"] == customer["created_at"]
