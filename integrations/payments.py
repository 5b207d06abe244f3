"""Client for the payment provider: hosted payment links for invoices.

The link's ``reference`` is our invoice id; it comes back in the payment webhook, which is
how a payment finds its invoice.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from integrations.http import post_json

PROVIDER = "payments"


class PaymentLink(BaseModel):
    id: str
    url: str
    status: str
    amount_minor: int
    currency: str
    reference: str


class PaymentsClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key

    async def create_link(
        self,
        *,
        idempotency_key: str,
        reference: str,
        amount_minor: int,
        currency: str,
        description: str,
    ) -> PaymentLink:
        data = await post_json(
            self._http,
            provider=PROVIDER,
            url=f"{self._base_url}/payments/v1/links",
            api_key=self._api_key,
            idempotency_key=idempotency_key,
            body={
                "reference": reference,
                "amount_minor": amount_minor,
                "currency": currency,
                "description": description,
            },
        )
        return PaymentLink.model_validate(data)
