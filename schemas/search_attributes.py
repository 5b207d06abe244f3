"""The search attributes operations filter on in the Temporal UI.

Registered by the dev stack (``temporal server start-dev --search-attribute``), by the
docker-compose admin step and by the test server fixture, all from ``ALL`` below.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

INVOICE_ID = SearchAttributeKey.for_keyword("InvoiceId")
INVOICE_NUMBER = SearchAttributeKey.for_keyword("InvoiceNumber")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
INVOICE_STATUS = SearchAttributeKey.for_keyword("InvoiceStatus")
AMOUNT_DUE = SearchAttributeKey.for_int("AmountDue")
CURRENCY = SearchAttributeKey.for_keyword("Currency")
DUE_DATE = SearchAttributeKey.for_datetime("DueDate")
DISPUTE_LEVEL = SearchAttributeKey.for_int("DisputeLevel")
DISPUTE_SLA_BREACHED = SearchAttributeKey.for_bool("DisputeSlaBreached")
EXCEPTION_REASON = SearchAttributeKey.for_keyword("ExceptionReason")
EXCEPTION_OWNER = SearchAttributeKey.for_keyword("ExceptionOwner")
# accounting sync (schemas.accounting_sync.SyncStatus), and since when a post has failed
# while it is "failing" (a datetime of its own, so `SyncFailingSince < "…"` filters)
SYNC_STATUS = SearchAttributeKey.for_keyword("SyncStatus")
SYNC_FAILING_SINCE = SearchAttributeKey.for_datetime("SyncFailingSince")

ALL: tuple[SearchAttributeKey[Any], ...] = (
    INVOICE_ID,
    INVOICE_NUMBER,
    CUSTOMER_ID,
    INVOICE_STATUS,
    AMOUNT_DUE,
    CURRENCY,
    DUE_DATE,
    DISPUTE_LEVEL,
    DISPUTE_SLA_BREACHED,
    EXCEPTION_REASON,
    EXCEPTION_OWNER,
    SYNC_STATUS,
    SYNC_FAILING_SINCE,
)


def at_start(
    *, invoice_id: str, customer_id: str, amount_due_minor: int, currency: str
) -> TypedSearchAttributes:
    """What an invoice workflow is started with (the API; the benchmark sends the same)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(INVOICE_ID, invoice_id),
            SearchAttributePair(CUSTOMER_ID, customer_id),
            SearchAttributePair(INVOICE_STATUS, "PENDING"),
            SearchAttributePair(AMOUNT_DUE, amount_due_minor),
            SearchAttributePair(CURRENCY, currency),
        ]
    )


_CLI_TYPE_NAMES = {
    "KEYWORD": "Keyword",
    "INT": "Int",
    "DATETIME": "Datetime",
    "TEXT": "Text",
    "DOUBLE": "Double",
    "BOOL": "Bool",
    "KEYWORD_LIST": "KeywordList",
}


def cli_flags() -> list[str]:
    """``--search-attribute Name=Type`` pairs for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += [
            "--search-attribute",
            f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type.name]}",
        ]
    return flags
