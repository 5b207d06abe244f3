"""Client for the payment provider: hosted payment links for invoices, and refunds.

The link's ``reference`` is our invoice id; it comes back in the payment webhook, which is
how a payment finds its invoice. A refund's ``reference`` is what we refund for (a credit
note's id); it comes back in the payment's refund list, which is how a retry finds a
refund whose answer it never got.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from pydantic import BaseModel

from integrations.errors import ProviderError
from integrations.http import get_json, post_json

PROVIDER = "payments"


class PaymentLink(BaseModel):
    id: str
    url: str
    status: str
    amount_minor: int
    currency: str
    reference: str


class Refund(BaseModel):
    id: str
    payment_id: str
    amount_minor: int
    currency: str
    status: str
    reference: str | None = None


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

    async def refund(
        self,
        *,
        idempotency_key: str,
        payment_id: str,
        amount_minor: int,
        currency: str,
        reason: str,
        reference: str | None = None,
    ) -> Refund:
        """Give back (part of) a payment; more than is left of it is a permanent error."""
        body: dict[str, object] = {
            "amount_minor": amount_minor,
            "currency": currency,
            "reason": reason,
        }
        if reference is not None:
            body["reference"] = reference
        data = await post_json(
            self._http,
            provider=PROVIDER,
            url=self._refunds_url(payment_id),
            api_key=self._api_key,
            idempotency_key=idempotency_key,
            body=body,
        )
        return Refund.model_validate(data)

    async def list_refunds(self, payment_id: str) -> list[Refund]:
        """The payment's refunds, oldest first."""
        data = await get_json(
            self._http, provider=PROVIDER, url=self._refunds_url(payment_id), api_key=self._api_key
        )
        if not isinstance(data, list):
            raise ProviderError(PROVIDER, 200, "refund list is not a JSON list", retryable=True)
        return [Refund.model_validate(item) for item in data]

    def _refunds_url(self, payment_id: str) -> str:
        return f"{self._base_url}/payments/v1/payments/{quote(payment_id, safe='')}/refunds"
