"""Client for the payment provider: hosted payment links for invoices, and refunds.

The link's ``reference`` is our invoice id; it comes back in the payment webhook, which is
how a payment finds its invoice. A refund's ``reference`` is what we refund for (a credit
note's id); it comes back in the payment's refund list.

Look-ups, for when an answer was lost: `find_operation` asks what the call made with an
idempotency key did (a retry asks before it creates again, because a provider forgets its
keys after a while), and `payments_for` lists the payments taken for an invoice (how a
payment whose webhook never reached us is found).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
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


class ProviderPayment(BaseModel):
    """A payment the provider took through one of our links."""

    id: str
    link_id: str
    reference: str
    amount_minor: int
    currency: str
    paid_at: datetime


class Operation(BaseModel):
    """What the call made with an idempotency key did: `resource` is what it created (a
    payment link, a payment, a refund), as it is now."""

    idempotency_key: str
    status: str
    object: str
    resource: dict[str, Any]


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

    async def find_operation(self, idempotency_key: str) -> Operation | None:
        """The operation made with `idempotency_key`, or None if the provider performed
        none (it never got the call, or refused it). Read-only."""
        try:
            data = await get_json(
                self._http,
                provider=PROVIDER,
                url=f"{self._base_url}/payments/v1/operations",
                api_key=self._api_key,
                params={"idempotency_key": idempotency_key},
            )
        except ProviderError as err:
            if err.status == 404:
                return None
            raise
        return Operation.model_validate(data)

    async def find_link(self, idempotency_key: str) -> PaymentLink | None:
        operation = await self.find_operation(idempotency_key)
        if operation is None or operation.object != "payment_link":
            return None
        return PaymentLink.model_validate(operation.resource)

    async def find_refund(self, idempotency_key: str) -> Refund | None:
        operation = await self.find_operation(idempotency_key)
        if operation is None or operation.object != "refund":
            return None
        return Refund.model_validate(operation.resource)

    async def payments_for(self, reference: str) -> list[ProviderPayment]:
        """Every payment taken for `reference` (our invoice id), oldest first. Read-only."""
        data = await get_json(
            self._http,
            provider=PROVIDER,
            url=f"{self._base_url}/payments/v1/payments",
            api_key=self._api_key,
            params={"reference": reference},
        )
        if not isinstance(data, list):
            raise ProviderError(PROVIDER, 200, "payment list is not a JSON list", retryable=True)
        return [ProviderPayment.model_validate(item) for item in data]

    def _refunds_url(self, payment_id: str) -> str:
        return f"{self._base_url}/payments/v1/payments/{quote(payment_id, safe='')}/refunds"
