"""Sandbox settings, read from ``SANDBOX_*`` environment variables.

The defaults are development values on purpose: nothing here guards real money or real
messages, so the API key and webhook secret are well-known strings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_ANY_ADDRESS = {"", "0.0.0.0", "::"}


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
    webhook_max_attempts: int = Field(default=5, ge=1)
    # Delay before retry n is webhook_retry_base_s * 2**(n-1): 1, 2, 4, 8 s by default.
    webhook_retry_base_s: float = Field(default=1.0, ge=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    # The control API (/_sandbox) answers loopback clients only, unless this is set
    # (for a sandbox in a container reached through a published port).
    control_allow_remote: bool = False

    @property
    def public_base_url(self) -> str:
        """The URL customers' browsers use to reach the sandbox (payment pages)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in _ANY_ADDRESS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.http_port}"
