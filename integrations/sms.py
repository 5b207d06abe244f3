"""Client for the SMS provider (the fallback channel when an invoice e-mail bounces)."""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from integrations.http import post_json

PROVIDER = "sms"


class SmsReceipt(BaseModel):
    id: str
    status: str
    to: str
    reference: str | None = None


class SmsClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key

    async def send(
        self, *, idempotency_key: str, to: str, body: str, reference: str | None
    ) -> SmsReceipt:
        """Queue a text to `to` (E.164, e.g. "+447700900123")."""
        data = await post_json(
            self._http,
            provider=PROVIDER,
            url=f"{self._base_url}/sms/v1/messages",
            api_key=self._api_key,
            idempotency_key=idempotency_key,
            body={"to": to, "body": body, "reference": reference},
        )
        return SmsReceipt.model_validate(data)
