"""Settings: embedded defaults in development, dev secrets refused in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings

REAL_SECRETS = {
    "payments_api_key": "pk_live_x",
    "sms_api_key": "sms_live_x",
    "accounting_api_key": "acc_live_x",
    "payments_webhook_secret": "whsec_live_x",
    "link_signing_secret": "a-long-random-signing-secret",
}


def test_development_defaults_describe_the_embedded_stack() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///.data/")
    assert settings.temporal_address == "127.0.0.1:7233"
    assert settings.effective_log_format == "console"


def test_production_refuses_each_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REAL_SECRETS:
        values = {**REAL_SECRETS}
        del values[name]  # this one keeps its dev default
        with pytest.raises(ValidationError) as refused:
            Settings(_env_file=None, environment="production", **values)
        assert f"INVOICEFLOW_{name.upper()}" in str(refused.value)


def test_production_with_real_secrets_starts_and_logs_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICEFLOW_ENVIRONMENT", "production")
    for name, value in REAL_SECRETS.items():
        monkeypatch.setenv(f"INVOICEFLOW_{name.upper()}", value)
    settings = Settings(_env_file=None)
    assert settings.effective_log_format == "json"
    assert "pk_live_x" not in repr(settings)  # secrets never print


def test_approval_rate_table_comes_from_one_json_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "INVOICEFLOW_APPROVAL_RATES", '{"base": "GBP", "rates": {"EUR": "0.86", "USD": "0.79"}}'
    )
    settings = Settings(_env_file=None)
    assert settings.approval_rates is not None
    assert settings.approval_rates.base == "GBP"
    assert str(settings.approval_rates.rates["EUR"]) == "0.86"
