"""The customer's signed "view invoice" link: works, changes nothing, refuses forgeries."""

from __future__ import annotations

import re
import time

import httpx
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from temporalio.client import Client

from core.links import PORTAL_VIEW_MAX_AGE_S, PORTAL_VIEW_SALT
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import running_stack


class _PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - PORTAL_VIEW_MAX_AGE_S - 60


async def test_view_link_from_the_email_shows_the_invoice_and_refuses_forgeries(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer, contract = await customer_and_contract(stack, email="viewer@acme.test")
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        html = (await stack.mailbox("viewer@acme.test"))[0]["html"]
        view_url = (
            re.search(r'href="([^"]*/portal/invoices/[^"]*)"', html).group(1).replace("&amp;", "&")
        )

        async with httpx.AsyncClient() as browser:  # no API key: customers have none
            page = await browser.get(view_url)
            assert page.status_code == 200
            assert issued["invoice"]["number"] in page.text and "£144.00" in page.text
            again = await browser.get(view_url)  # prefetching scanners: GET changes nothing
            assert again.status_code == 200
            assert (await stack.invoice(invoice_id))["live"]["status"] == "ISSUED"

            base, token = view_url.split("?token=")
            assert (await browser.get(f"{base}?token={token[:-2]}xx")).status_code == 403
            other = view_url.replace(invoice_id, "inv_someoneelse")
            assert (await browser.get(other)).status_code == 403
            secret = stack.settings.link_signing_secret.get_secret_value()
            stale = URLSafeTimedSerializer(secret, salt=PORTAL_VIEW_SALT, signer=_PastSigner).dumps(
                {"invoice_id": invoice_id}
            )
            assert (await browser.get(f"{base}?token={stale}")).status_code == 410
