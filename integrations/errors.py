"""One error type for every provider failure, carrying whether a retry can succeed.

Activities turn ``retryable=False`` into a non-retryable ``ApplicationError``; everything
else is left to the activity's RetryPolicy. Retrying is safe because every mutating call
carries an idempotency key.
"""

from __future__ import annotations

# 408 Request Timeout, 409 Conflict (e.g. the same idempotency key still in flight),
# 429 Too Many Requests: the request was fine, the moment was not.
_RETRYABLE_4XX = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in _RETRYABLE_4XX


class ProviderError(Exception):
    """A provider call failed. `status` is None when no answer came (timeout, connection)."""

    def __init__(self, provider: str, status: int | None, detail: str, *, retryable: bool) -> None:
        super().__init__(f"{provider}: {status if status is not None else 'no response'}: {detail}")
        self.provider = provider
        self.status = status
        self.detail = detail
        self.retryable = retryable

    @classmethod
    def from_status(cls, provider: str, status: int, detail: str) -> ProviderError:
        return cls(provider, status, detail, retryable=is_retryable_status(status))
