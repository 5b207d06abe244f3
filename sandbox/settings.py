"""Sandbox settings, read from ``SANDBOX_*`` environment variables.

The defaults are development values on purpose: nothing here guards real money or real
messages, so the API key and webhook secret are well-known strings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ANY_ADDRESS = {"", "0.0.0.0", "::"}

DEFAULT_WEBHOOK_RETRY_SCHEDULE_S = (60, 300, 1800, 3600, 10800, 21600, 43200, 86400, 86400)


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    http_port: int = Field(default=8025, ge=0, le=65535)
    smtp_port: int = Field(default=2525, ge=0, le=65535)
    # None keeps everything in memory (tests); a path persists state across restarts.
    data_dir: Path | None = Path(".data/sandbox")
    api_key: str = "sandbox-key"
    webhook_url: str = "http://127.0.0.1:8000/webhooks/payments"
    webhook_secret: str = "whsec_dev_only"
    # None: derived from host and http_port, see `public_base_url`.
    public_url: str | None = None
    # Seconds before each retry of a webhook the receiver did not acknowledge (2xx), as a
    # real provider retries (Stripe: up to three days, backing off): 1 min, 5 min, 30 min,
    # 1 h, 3 h, 6 h, 12 h, 24 h, 24 h; 10 attempts over ~2.9 days, then it is abandoned.
    # As JSON in the environment: SANDBOX_WEBHOOK_RETRY_SCHEDULE_S='[1, 5, 30]'.
    webhook_retry_schedule_s: list[float] = Field(
        default=list(DEFAULT_WEBHOOK_RETRY_SCHEDULE_S), max_length=100
    )
    # Every delay of the schedule is multiplied by this: 1 for the real thing; tests run
    # the same schedule faster (1e-4: the ~2.9 days in ~25 s, the first retry after 6 ms).
    webhook_time_scale: float = Field(default=1.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    # The control API (/_sandbox) answers loopback clients only, unless this is set
    # (for a sandbox in a container reached through a published port).
    control_allow_remote: bool = False
    # The OpenID Connect provider (/oidc): the one client it knows, and the redirect URIs
    # that client may use (None: any http(s) URI, which suits a sandbox and its tests).
    oidc_client_id: str = "invoiceflow-ops"
    oidc_client_secret: str = "sandbox-oidc-secret"
    oidc_redirect_uris: list[str] | None = None

    @field_validator("webhook_retry_schedule_s")
    @classmethod
    def _no_negative_delay(cls, schedule: list[float]) -> list[float]:
        if any(delay < 0 for delay in schedule):
            raise ValueError("webhook retry delays cannot be negative")
        return schedule

    @property
    def webhook_attempts(self) -> int:
        """The first delivery plus one retry per delay of the schedule."""
        return len(self.webhook_retry_schedule_s) + 1

    def webhook_retry_delay_s(self, attempt: int) -> float:
        """How long to wait after failed attempt `attempt` (1-based) before the next."""
        return self.webhook_retry_schedule_s[attempt - 1] * self.webhook_time_scale

    @property
    def public_base_url(self) -> str:
        """The URL customers' browsers use to reach the sandbox (payment pages)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in _ANY_ADDRESS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.http_port}"
