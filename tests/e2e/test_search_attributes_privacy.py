"""What Temporal keeps clear by design stays free of personal data.

Search attributes are indexed by the server, never passed through the payload codec: a
customer's name, e-mail, phone, postal address or tax number must never be one. Workflow
summaries and details are encrypted like every payload, but they are what an operator
reads in the Temporal UI's list and header: they may name the customer and the invoice,
never the customer's contact details or tax number.

A real stack runs an issued invoice and one waiting as a PO exception (so every kind of
invoice search attribute is set); then every workflow on the namespace is read back.
"""

from __future__ import annotations

import re
from datetime import datetime

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus

from schemas.invoice import InvoiceStatus
from schemas.search_attributes import ALL
from tests.e2e.test_po_matching import exception_groups, invoice
from tests.e2e.test_po_matching_api import customer_with_contract
from tests.support.approvals import wait_for_live
from tests.support.stack import Stack, running_stack

NAME = "Privacy Test Holdings Ltd"
EMAIL = "ap@privacy-holdings.test"
PHONE = "+447700900123"
ADDRESS = "12 Discreet Lane\nLondon EC1A 1BB"
TAX_ID = "GB123456789"
PERSONAL = (NAME, EMAIL, PHONE, "Discreet Lane", "EC1A 1BB", TAX_ID)
# What an operator may read in a summary or details (the customer's name, the invoice's
# number and amount) is allowed there; their contact details and tax number never are.
CONTACT = (EMAIL, PHONE, "Discreet Lane", "EC1A 1BB", TAX_ID)

ID_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
# Each search attribute with the shape its value must have: ids, codes, amounts, dates.
SHAPES = {
    "InvoiceId": ID_LIKE,
    "InvoiceNumber": re.compile(r"^[A-Z]+-\d{4}-[A-Z0-9-]+$"),
    "CustomerId": ID_LIKE,
    "InvoiceStatus": re.compile("^(" + "|".join(s.value for s in InvoiceStatus) + ")$"),
    "Currency": re.compile(r"^[A-Z]{3}$"),
    "ExceptionReason": re.compile(r"^[a-z][a-z_]*$"),  # a code: po_missing, delivery_failed
    "ExceptionOwner": ID_LIKE,  # a person id of the approval directory, or "operations"
    "SyncStatus": re.compile(r"^[a-z_]+$"),
}
NOT_TEXT = {
    "AmountDue": int,
    "DueDate": datetime,
    "DisputeLevel": int,
    "SyncFailingSince": datetime,
    "DisputeSlaBreached": bool,
}


def test_every_search_attribute_has_a_non_personal_shape() -> None:
    """A new search attribute must say here what it holds before it can be added."""
    assert {key.name for key in ALL} == set(SHAPES) | set(NOT_TEXT)


async def customer(stack: Stack, email: str, **extra: object) -> tuple[dict, dict]:
    """A customer with every piece of contact data the API takes, and a contract."""
    return await customer_with_contract(
        stack, email, name=NAME, phone=PHONE, address=ADDRESS, tax_id=TAX_ID, **extra
    )


async def customer_invoices(stack: Stack) -> tuple[str, str]:
    """One invoice issued and awaiting payment, one waiting as a PO exception."""
    await exception_groups(stack)
    open_customer, contract = await customer(stack, EMAIL)
    issued = await invoice(
        stack, open_customer, contract, items=[{"rate_code": "senior", "quantity": "2"}]
    )
    strict, strict_contract = await customer(stack, f"strict.{EMAIL}", po_required=True)
    waiting = await invoice(
        stack, strict, strict_contract, items=[{"rate_code": "senior", "quantity": "1"}]
    )
    await stack.wait_until_awaiting_payment(issued)
    await wait_for_live(stack, waiting, status="EXCEPTION")
    return issued, waiting


async def test_no_search_attribute_summary_or_details_carries_contact_data(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        issued, waiting = await customer_invoices(stack)
        seen: dict[str, set[str]] = {}
        summaries: list[str] = []
        # this stack's workflows (the dev server is shared by the session, and other
        # tests' workers are gone, so their workflows answer no query)
        mine = f'TaskQueue = "{stack.settings.task_queue}"'
        async for listed in temporal.list_workflows(mine):
            handle = temporal.get_workflow_handle(listed.id, run_id=listed.run_id)
            described = await handle.describe()
            for pair in described.typed_search_attributes:
                name, value = pair.key.name, pair.value
                values = value if isinstance(value, list) else [value]
                for item in values:
                    text = str(item)
                    assert not any(p.lower() in text.lower() for p in PERSONAL), (name, text)
                    if name not in SHAPES and name not in NOT_TEXT:
                        continue  # Temporal's own (BuildIds, TemporalChangeVersion)
                    if name in NOT_TEXT:
                        assert isinstance(item, NOT_TEXT[name]), (name, item)
                    else:
                        assert SHAPES[name].fullmatch(text), (name, text)
                    seen.setdefault(name, set()).add(text)
            shown = [await described.static_summary(), await described.static_details()]
            if described.status == WorkflowExecutionStatus.RUNNING:
                metadata = await handle.query(
                    "__temporal_workflow_metadata", result_type=WorkflowMetadata
                )
                shown.append(metadata.current_details)
            for text in filter(None, shown):
                summaries.append(text)
                assert not any(c.lower() in text.lower() for c in CONTACT), (listed.id, text)

        # the run really set what is checked: every invoice attribute, and the customer's
        # name where an operator reads it
        assert {
            "InvoiceId",
            "InvoiceNumber",
            "CustomerId",
            "InvoiceStatus",
            "AmountDue",
            "Currency",
            "DueDate",
            "ExceptionReason",
            "ExceptionOwner",
        } <= set(seen)
        assert "EXCEPTION" in seen["InvoiceStatus"]
        assert seen["InvoiceStatus"] & {"ISSUED", "AWAITING_PAYMENT"}
        assert seen["ExceptionReason"] == {"po_missing"}
        assert {issued, waiting} <= seen["InvoiceId"]
        assert any(NAME in text for text in summaries)
