"""One settings class for every InvoiceFlow process.

Values come from environment variables prefixed ``INVOICEFLOW_`` (or a ``.env`` file).
The defaults describe the embedded development stack, so ``make run`` needs no
configuration; outside development the dev-only secrets are refused, so a production
deployment cannot start with a secret that is printed in this file.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.approval import RateTable
from domain.delivery_window import QuietHours
from domain.disputes import DisputeLadder, DisputeRouting
from domain.matching.model import Tolerances
from domain.matching.routing import ExceptionRouting
from domain.tasks.timing import load_zone
from schemas.reminders import ReminderTerms, default_terms

DEV_SECRETS = {
    "payments_api_key": "sandbox-key",
    "sms_api_key": "sandbox-key",
    "accounting_api_key": "sandbox-key",
    "payments_webhook_secret": "whsec_dev_only",
    "link_signing_secret": "dev-link-signing-secret",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICEFLOW_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"

    database_url: str = "sqlite:///.data/invoiceflow.db"

    temporal_address: str = "127.0.0.1:7233"
    temporal_ui_port: int = 8233  # the dev stack's Temporal UI
    # where operators open the Temporal UI (the ops pages link each case's workflow there);
    # unset: http://<temporal_address's host>:<temporal_ui_port>, the dev stack's
    temporal_ui_url: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "invoiceflow"
    # How long the API waits on Temporal before answering without it. A live-state query
    # (GET /invoices/{id}): then the stored record answers with live null. A workflow start
    # (POST /invoices, /billing-runs), its retries included: then 503 temporal_unavailable
    # with Retry-After; a retry with the same Idempotency-Key starts nothing twice.
    temporal_query_timeout_s: float = Field(default=2.0, gt=0)
    temporal_rpc_timeout_s: float = Field(default=3.0, gt=0)
    # The Temporal workflow sandbox checks workflow code for non-determinism at run time.
    # It costs the worker CPU per invoice (make bench). The tests run with it on (the
    # lifecycle e2e test also off); a production worker running code that passed them
    # may turn it off for throughput.
    workflow_sandbox: bool = True

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    # SMTP sessions the worker keeps open between messages (0: one session per message),
    # and how long an idle one may be reused; relays commonly drop idle clients after 60 s+
    smtp_pool_size: int = Field(default=4, ge=0)
    smtp_idle_timeout_s: float = Field(default=30, gt=0)
    mail_from: str = "InvoiceFlow Billing <billing@invoiceflow.local>"

    payments_url: str = "http://127.0.0.1:8025"
    payments_api_key: SecretStr = SecretStr(DEV_SECRETS["payments_api_key"])
    payments_webhook_secret: SecretStr = SecretStr(DEV_SECRETS["payments_webhook_secret"])
    sms_url: str = "http://127.0.0.1:8025"
    sms_api_key: SecretStr = SecretStr(DEV_SECRETS["sms_api_key"])
    accounting_url: str = "http://127.0.0.1:8025"
    accounting_api_key: SecretStr = SecretStr(DEV_SECRETS["accounting_api_key"])
    # a post still failing this long after it was first tried: SyncStatus "failing",
    # ExceptionReason accounting_sync_failing, and an e-mail to ops_email
    accounting_alert_after_h: float = Field(default=1, gt=0)
    ops_email: str | None = "ops@invoiceflow.local"
    provider_timeout_s: float = 10.0

    # Who sends the invoices: printed on the customer portal's invoice page. The address
    # is multi-line (lines separated by "\n"); the tax id is the seller's VAT/GST number.
    seller_name: str = "InvoiceFlow Demo Ltd"
    seller_address: str = "1 Example Street\nLondon EC1A 1AA\nUnited Kingdom"
    seller_tax_id: str | None = "GB123456789"
    seller_email: str | None = "billing@invoiceflow.local"

    link_signing_secret: SecretStr = SecretStr(DEV_SECRETS["link_signing_secret"])
    # Operators' sessions on the ops pages (signed with link_signing_secret under a salt of
    # their own): how long one lasts after sign-in, whatever the browser keeps
    ops_session_max_age_s: int = Field(default=12 * 3600, gt=0)
    # Operators may also sign in through an OpenID Connect provider (api/ops_oidc.py): its
    # issuer URL (discovery at {issuer}/.well-known/openid-configuration) and this app's
    # client there, whose redirect URI is {public_base_url}/ops/oidc/callback. Unset: the
    # password form only. The provider's verified e-mail must be an active operator's.
    ops_oidc_issuer: str | None = None
    ops_oidc_client_id: str | None = None
    ops_oidc_client_secret: SecretStr | None = None
    ops_oidc_scopes: str = "openid email profile"
    # the button's "Sign in with <name>"; unset: the issuer's host name
    ops_oidc_provider_name: str | None = None
    approval_link_max_age_s: int = 7 * 24 * 3600
    approval_remind_after_h: float = 24
    approval_escalate_after_h: float = 48
    approval_expire_after_h: float = 120
    # Count approval timers in business hours (Mon-Fri 09:00-17:00) of the approver's zone
    approval_business_hours: bool = False
    # Thresholds in one currency apply to invoices in others through this table, e.g.
    # INVOICEFLOW_APPROVAL_RATES='{"base": "GBP", "rates": {"EUR": "0.86", "USD": "0.79"}}'
    approval_rates: RateTable | None = None

    # PO matching. The tolerances any customer gets unless its own `match_tolerances` (or
    # a PO line's) say otherwise, e.g. INVOICEFLOW_MATCH_TOLERANCES='{"price_over_pct": "2"}'
    match_tolerances: Tolerances = Tolerances(
        price_over_pct=Decimal(1),
        price_over_minor=500,
        price_under_pct=Decimal(5),
        quantity_over_pct=Decimal(0),
        total_over_pct=Decimal(0),
    )
    # Two invoices of one customer with the same lines and total this many days apart (or
    # less) are a POSSIBLE_DUPLICATE (only invoices that are matched against a PO). A week,
    # not a month: a fixed monthly fee billed against one PO is 28-31 days apart and no
    # duplicate.
    match_duplicate_window_days: int = Field(default=7, ge=0)
    # Who owns an exception (groups and people are the approval policy's), e.g.
    # INVOICEFLOW_EXCEPTION_ROUTING='{"routes": [{"reasons": ["PRICE_VARIANCE"],
    #   "group": "pricing"}], "default_group": "ar", "escalation_group": "finance"}'
    exception_routing: ExceptionRouting = ExceptionRouting()
    exception_remind_after_h: float = 24
    exception_escalate_after_h: float = 72
    exception_expire_after_h: float = 240
    exception_business_hours: bool = False
    exception_link_max_age_s: int = 14 * 24 * 3600

    # Dispute evidence: the folder of content-addressed blobs (integrations/evidence_storage.py)
    # and the largest file accepted, refused before anything is stored
    evidence_dir: str = ".data/evidence"
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # Issued documents (PDFs, e-invoices): content-addressed like evidence, in this folder
    documents_dir: str = ".data/documents"
    # processes the worker prints PDFs in (0: in its own, taking its core for ~0.1 s each)
    pdf_processes: int = Field(default=1, ge=0, le=16)

    # Disputes. Level 1's owner by rule (reason category, customer; round robin in a
    # group), the ladder's levels above it with their SLA in business days, and the amounts
    # at which a dispute starts higher (minor units of the invoice currency), e.g.
    # INVOICEFLOW_DISPUTE_LADDER='{"levels": [{"level": 1, "name": "Team", "group": "ar",
    #   "sla_business_days": 5}, ...], "start_at": [{"level": 2, "from_amount_minor": 500000}]}'
    dispute_routing: DisputeRouting = DisputeRouting()
    dispute_ladder: DisputeLadder = DisputeLadder()
    # a credit note above this needs an approver of this group (approve / reject)
    dispute_credit_approval_threshold_minor: int = Field(default=100_000, ge=0)
    dispute_credit_approval_group: str = "Finance managers"
    dispute_credit_approval_expire_after_h: float = Field(default=120, gt=0)
    dispute_write_off_limit_minor: int = Field(default=5_000, ge=0)
    dispute_info_response_days: int = Field(default=7, ge=1)
    dispute_remedy_response_days: int = Field(default=10, ge=1)
    dispute_declines_before_escalation: int = Field(default=2, ge=1)

    # Delivery. A customer's time zone unless they chose one (an IANA name), and the
    # delivery window outside which invoices and reminders wait (quiet hours), in the
    # customer's zone, e.g. INVOICEFLOW_QUIET_HOURS='{"start": "09:00", "end": "18:00",
    # "working_days": [0, 1, 2, 3, 4, 5], "enabled": true}'. A channel still failing this
    # long after the delivery's first attempt hands over to the customer's next channel
    # (seconds or ISO 8601, e.g. INVOICEFLOW_CHANNEL_OUTAGE_LIMIT=PT30M).
    default_timezone: str = "Europe/London"
    quiet_hours: QuietHours = QuietHours()
    channel_outage_limit: timedelta = Field(default=timedelta(minutes=30), gt=timedelta(0))

    # Reminders. The schedule any contract without its own `reminders` follows (steps
    # relative to the due or issue date; no late charge), and the reference rates that
    # statutory interest adds to the published tables of domain/reminders/reference_rates.py,
    # e.g. INVOICEFLOW_REFERENCE_RATES='{"boe": [["2026-02-05", "3.50"]], "ecb": []}'
    reminder_schedule: ReminderTerms = Field(default_factory=default_terms)
    reference_rates: dict[Literal["boe", "ecb"], list[tuple[date, Decimal]]] = Field(
        default_factory=dict
    )

    # Observability (core/metrics.py, core/tracing.py). The worker's Prometheus endpoint,
    # http://ADDRESS/metrics: the Temporal SDK's metrics and ours. Unset: 127.0.0.1:9464 in
    # development, none elsewhere; "" turns it off. Two workers on one host need two ports.
    worker_metrics_address: str | None = None
    # how often a worker reads the queue sizes and the sync lag from the database (0: never)
    metrics_poll_interval_s: float = Field(default=15, ge=0)
    # the API's GET /metrics: open (for an internal network) unless this is set, then it
    # wants "Authorization: Bearer <token>"
    metrics_token: SecretStr | None = None
    # OpenTelemetry traces, exported over OTLP/HTTP to this collector (e.g.
    # http://otel-collector:4318); unset: no tracing at all. The service name gets the
    # process's part appended (invoiceflow-api, invoiceflow-worker).
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "invoiceflow"

    # Payload encryption (core/codec.py): AES-256-GCM keys as "id:base64key,id:base64key";
    # new payloads use codec_key_id (default: the first key), every listed key still opens
    # what it sealed. Unset: payloads travel clear (required in production; `make run`
    # makes a key of its own in .data/). `invoiceflow codec new-key ID` prints a key.
    codec_keys: SecretStr | None = None
    codec_key_id: str | None = None
    # The codec server (POST /codec/encode, /codec/decode) for the Temporal UI and CLI:
    # the UI origins allowed to call it from a browser (default: the dev stack's UI), and
    # bearer tokens for `temporal ... --codec-auth "Bearer <token>"`, "t1,t2"; a signed-in
    # operator's session cookie opens it too.
    codec_cors_origins: list[str] | None = None
    codec_auth_tokens: SecretStr | None = None

    @property
    def codec_key_table(self) -> dict[str, bytes]:
        from core.codec import parse_keys

        return parse_keys(self.codec_keys.get_secret_value()) if self.codec_keys else {}

    @property
    def effective_codec_key_id(self) -> str | None:
        keys = self.codec_key_table
        return self.codec_key_id or next(iter(keys), None)

    @property
    def effective_codec_cors_origins(self) -> list[str]:
        if self.codec_cors_origins is not None:
            return self.codec_cors_origins
        port = self.temporal_ui_port
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    @property
    def effective_worker_metrics_address(self) -> str | None:
        if self.worker_metrics_address is None:
            return "127.0.0.1:9464" if self.environment == "development" else None
        return self.worker_metrics_address or None

    @property
    def tracing_enabled(self) -> bool:
        return bool(self.otel_exporter_otlp_endpoint)

    @field_validator("channel_outage_limit", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """A plain number is seconds (pydantic reads a bare "1800" as a malformed ISO one)."""
        if isinstance(value, str) and value.replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        load_zone(value)  # an unknown name stops the process at start, not an invoice
        return value

    @property
    def ops_oidc_enabled(self) -> bool:
        return bool(self.ops_oidc_issuer)

    @property
    def ops_oidc_display_name(self) -> str:
        if self.ops_oidc_provider_name:
            return self.ops_oidc_provider_name
        return urlsplit(self.ops_oidc_issuer or "").hostname or "single sign-on"

    @model_validator(mode="after")
    def _ops_oidc_complete(self) -> Settings:
        """Half an OpenID Connect configuration stops the process at start, with the reason."""
        given = {
            "INVOICEFLOW_OPS_OIDC_ISSUER": self.ops_oidc_issuer,
            "INVOICEFLOW_OPS_OIDC_CLIENT_ID": self.ops_oidc_client_id,
            "INVOICEFLOW_OPS_OIDC_CLIENT_SECRET": self.ops_oidc_client_secret,
        }
        missing = [name for name, value in given.items() if not value]
        if len(missing) == len(given):
            return self
        if missing:
            raise ValueError(f"OpenID Connect sign-in needs {', '.join(missing)} too")
        issuer = urlsplit(self.ops_oidc_issuer or "")
        if issuer.scheme not in ("https", "http") or not issuer.hostname:
            raise ValueError("INVOICEFLOW_OPS_OIDC_ISSUER must be an http(s) URL")
        if self.environment == "production" and issuer.scheme != "https":
            raise ValueError("INVOICEFLOW_OPS_OIDC_ISSUER must be https in production")
        if "openid" not in self.ops_oidc_scopes.split():
            raise ValueError("INVOICEFLOW_OPS_OIDC_SCOPES must include openid")
        return self

    @property
    def effective_log_format(self) -> str:
        if self.log_format:
            return self.log_format
        return "json" if self.environment == "production" else "console"

    @model_validator(mode="after")
    def _codec_keys_usable(self) -> Settings:
        """A key that cannot be used stops the process at start, with the reason."""
        keys = self.codec_key_table
        if self.codec_key_id is not None and self.codec_key_id not in keys:
            raise ValueError(
                f"INVOICEFLOW_CODEC_KEY_ID {self.codec_key_id!r} is not among"
                " INVOICEFLOW_CODEC_KEYS"
            )
        if self.environment == "production" and not keys:
            raise ValueError(
                "production needs INVOICEFLOW_CODEC_KEYS: customer data would sit in"
                " Temporal's history in clear"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_development(self) -> Settings:
        if self.environment != "production":
            return self
        still_default = [
            name
            for name, dev_value in DEV_SECRETS.items()
            if getattr(self, name).get_secret_value() == dev_value
        ]
        if still_default:
            names = ", ".join(f"INVOICEFLOW_{n.upper()}" for n in still_default)
            raise ValueError(f"development secrets are not allowed in production; set {names}")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
