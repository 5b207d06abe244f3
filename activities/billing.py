"""Database reads of the billing-run workflow."""

from __future__ import annotations

from temporalio import activity

from schemas.billing import ListBillableContractsInput, ListBillableContractsResult
from store import billing
from store.db import SessionFactory, transaction


class BillingActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn(name="billing.list_contracts")
    async def list_contracts(self, data: ListBillableContractsInput) -> ListBillableContractsResult:
        """One page of contracts to bill for the period: valid in it, with unbilled entries,
        ordered by id after the cursor."""
        async with transaction(self._sessions, writes=False) as session:
            contracts, remaining = await billing.billable_contracts(
                session, data.period, data.after_contract_id, data.limit
            )
        return ListBillableContractsResult(contracts=contracts, remaining=remaining)
