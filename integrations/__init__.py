"""Clients for the outside world: e-mail (SMTP), SMS, payments, accounting (httpx).

Activities call these; they do not retry (Temporal retries the activity) but they say,
through :class:`integrations.errors.ProviderError`, whether a retry can help. Every
mutating call takes an idempotency key from the caller, stable across activity retries.
"""
