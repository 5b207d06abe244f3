"""Which provider failures are worth a retry."""

from __future__ import annotations

import pytest

from integrations.errors import ProviderError, is_retryable_status


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_server_errors_and_transient_client_errors_are_retryable(status: int) -> None:
    assert is_retryable_status(status)
    assert ProviderError.from_status("sms", status, "x").retryable


@pytest.mark.parametrize("status", [300, 400, 401, 403, 404, 405, 410, 413, 415, 422])
def test_other_client_errors_are_permanent(status: int) -> None:
    assert not is_retryable_status(status)
    assert not ProviderError.from_status("sms", status, "x").retryable


def test_provider_error_carries_provider_status_and_detail() -> None:
    error = ProviderError("payments", None, "timeout", retryable=True)

    assert (error.provider, error.status, error.detail, error.retryable) == (
        "payments",
        None,
        "timeout",
        True,
    )
    assert "payments" in str(error) and "timeout" in str(error)
