"""Wire activities to their clients and build the Temporal worker (used by main and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.accounting import AccountingActivities
from activities.accounting_sync import AccountingSyncActivities
from activities.approval import ApprovalActivities
from activities.billing import BillingActivities
from activities.credit_refunds import CreditRefundActivities
from activities.customer_credits import CustomerCreditActivities
from activities.delivery import DeliveryActivities
from activities.dispute_notices import DisputeNoticeActivities
from activities.disputes import DisputeActivities
from activities.documents import DocumentIssuer
from activities.matching import MatchingActivities
from activities.notices import NoticeActivities
from activities.payment_checks import PaymentCheckActivities
from activities.remedies import RemedyActivities
from activities.reminders import ReminderActivities, rate_tables
from activities.store import InvoiceStoreActivities
from activities.tasks import TaskActivities
from activities.webhooks import WebhookActivities
from core.settings import Settings
from integrations.accounting import AccountingClient
from integrations.email import EmailSender, SmtpSettings
from integrations.evidence_storage import documents_storage
from integrations.payments import PaymentsClient
from integrations.sms import SmsClient
from schemas.delivery import DeliveryPlan
from store.db import SessionFactory
from worker.log_context import LogContextInterceptor
from workflows.accounting_resync import AccountingResyncWorkflow
from workflows.billing_run import BillingRunWorkflow
from workflows.credit_refund import CreditRefundWorkflow
from workflows.dispute import DisputeWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow
from workflows.webhook_dispatcher import WebhookDispatcherWorkflow

WORKFLOWS = [
    InvoiceWorkflow,
    BillingRunWorkflow,
    DisputeWorkflow,
    WebhookDispatcherWorkflow,
    WebhookDeliveryWorkflow,
    AccountingResyncWorkflow,
    CreditRefundWorkflow,
]

STICKY_TIMEOUT = timedelta(seconds=3)

# Our workflow modules hold no module-level state, so the sandbox may share them (and the
# domain and schema modules) across workflow runs instead of re-importing and recompiling
# them for every new invoice: profiled, that re-import cost ~11% of the worker's CPU.
PASSTHROUGH_MODULES = (
    "workflows",
    "domain",
    "schemas",
    "activities",
    "integrations",
    "store",
    "rendering",
    "core",
)


def workflow_runner(sandboxed: bool, *also_passthrough: str) -> WorkflowRunner:
    """The sandbox (the default, and in tests) or none: see `Settings.workflow_sandbox`.

    Without it the same workflow code runs, with the same determinism rules; only the
    run-time check is gone, which the test suite (sandboxed) and the replay tests keep.
    `also_passthrough` names more stateless modules to share (the benchmark's floor)."""
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            *PASSTHROUGH_MODULES, *also_passthrough
        )
    )


@dataclass
class ActivitySet:
    store: InvoiceStoreActivities
    delivery: DeliveryActivities
    accounting: AccountingActivities
    billing: BillingActivities
    approval: ApprovalActivities
    notices: NoticeActivities
    dispute_notices: DisputeNoticeActivities
    disputes: DisputeActivities
    tasks: TaskActivities
    matching: MatchingActivities
    remedies: RemedyActivities
    credits: CustomerCreditActivities
    credit_refunds: CreditRefundActivities
    webhooks: WebhookActivities
    accounting_sync: AccountingSyncActivities | None = None
    payment_checks: PaymentCheckActivities | None = None
    reminders: ReminderActivities | None = None

    def all(self) -> list:  # type: ignore[type-arg]
        return [
            self.store.create_invoice,
            self.store.record_payment,
            self.store.set_status,
            self.delivery.deliver_invoice,
            self.notices.resend_invoice,
            self.notices.send_receipt,
            self.dispute_notices.notify_customer,
            self.disputes.record,
            self.disputes.assign_level,
            self.disputes.move,
            self.disputes.credit_approvers,
            self.disputes.issue_credit_note,
            self.disputes.write_off,
            self.disputes.record_plan,
            self.disputes.track_plan,
            self.disputes.void_invoice,
            self.accounting.post_invoice,
            self.accounting.post_payment,
            self.billing.list_contracts,
            self.approval.load_context,
            self.approval.send_links,
            self.approval.record_decision,
            self.approval.revise,
            self.tasks.notify,
            self.tasks.record_decision,
            self.matching.load,
            self.matching.record,
            self.matching.prepare_rematch,
            self.matching.open_exception,
            self.matching.update_exception,
            self.remedies.refund,
            self.remedies.post_credit_note,
            self.remedies.post_write_off,
            self.remedies.post_void,
            self.remedies.post_credit_allocation,
            self.credits.grant,
            self.credits.keep_overpayment,
            self.credit_refunds.reserve_refund,
            self.credit_refunds.settle_refund,
            self.credit_refunds.post_credit_refund,
            *([self.payment_checks.check] if self.payment_checks else []),
            self.webhooks.fan_out,
            self.webhooks.send,
            self.webhooks.finish,
            *self._sync(),
            *([self.reminders.send_reminder] if self.reminders else []),
        ]

    def _sync(self) -> list:  # type: ignore[type-arg]
        sync = self.accounting_sync
        return [] if sync is None else [sync.resume_post, sync.resync, sync.alert_ops]


def smtp_settings(settings: Settings) -> SmtpSettings:
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_start_tls,
        pool_size=settings.smtp_pool_size,
        idle_timeout=settings.smtp_idle_timeout_s,
    )


def build_activities(
    settings: Settings, sessions: SessionFactory, http: httpx.AsyncClient, email: EmailSender
) -> ActivitySet:
    """`http` and `email` belong to the caller, which closes them after the worker stops."""
    activities = _activity_set(settings, sessions, http, email)
    activities.accounting_sync = AccountingSyncActivities(
        sessions,
        AccountingClient(
            http, settings.accounting_url, settings.accounting_api_key.get_secret_value()
        ),
        activities.accounting,
        activities.remedies,
        email,
        mail_from=settings.mail_from,
        ops_email=settings.ops_email,
    )
    activities.payment_checks = PaymentCheckActivities(
        PaymentsClient(http, settings.payments_url, settings.payments_api_key.get_secret_value())
    )
    activities.reminders = ReminderActivities(
        sessions,
        email,
        SmsClient(http, settings.sms_url, settings.sms_api_key.get_secret_value()),
        mail_from=settings.mail_from,
        public_base_url=settings.public_base_url,
        link_secret=settings.link_signing_secret.get_secret_value(),
        rates=rate_tables(
            settings.reference_rates.get("boe", []), settings.reference_rates.get("ecb", [])
        ),
    )
    return activities


def _activity_set(
    settings: Settings, sessions: SessionFactory, http: httpx.AsyncClient, email: EmailSender
) -> ActivitySet:
    return ActivitySet(
        approval=ApprovalActivities(sessions, email, settings),
        store=InvoiceStoreActivities(
            sessions,
            DeliveryPlan(timezone=settings.default_timezone, quiet_hours=settings.quiet_hours),
        ),
        delivery=DeliveryActivities(
            sessions,
            PaymentsClient(
                http, settings.payments_url, settings.payments_api_key.get_secret_value()
            ),
            email,
            SmsClient(http, settings.sms_url, settings.sms_api_key.get_secret_value()),
            mail_from=settings.mail_from,
            public_base_url=settings.public_base_url,
            link_secret=settings.link_signing_secret.get_secret_value(),
            documents=DocumentIssuer(sessions, documents_storage(settings), settings),
            outage_limit=settings.channel_outage_limit,
        ),
        accounting=AccountingActivities(
            sessions,
            AccountingClient(
                http, settings.accounting_url, settings.accounting_api_key.get_secret_value()
            ),
            alert_after=timedelta(hours=settings.accounting_alert_after_h),
        ),
        billing=BillingActivities(sessions),
        notices=NoticeActivities(
            sessions,
            email,
            mail_from=settings.mail_from,
            public_base_url=settings.public_base_url,
            link_secret=settings.link_signing_secret.get_secret_value(),
        ),
        dispute_notices=DisputeNoticeActivities(
            sessions,
            email,
            SmsClient(http, settings.sms_url, settings.sms_api_key.get_secret_value()),
            mail_from=settings.mail_from,
            public_base_url=settings.public_base_url,
            link_secret=settings.link_signing_secret.get_secret_value(),
            documents=DocumentIssuer(sessions, documents_storage(settings), settings),
        ),
        tasks=TaskActivities(
            sessions,
            email,
            mail_from=settings.mail_from,
            public_base_url=settings.public_base_url,
            link_secret=settings.link_signing_secret.get_secret_value(),
        ),
        matching=MatchingActivities(sessions, settings),
        disputes=DisputeActivities(sessions, settings),
        remedies=RemedyActivities(
            sessions,
            PaymentsClient(
                http, settings.payments_url, settings.payments_api_key.get_secret_value()
            ),
            AccountingClient(
                http, settings.accounting_url, settings.accounting_api_key.get_secret_value()
            ),
        ),
        credits=CustomerCreditActivities(sessions),
        credit_refunds=CreditRefundActivities(
            sessions,
            AccountingClient(
                http, settings.accounting_url, settings.accounting_api_key.get_secret_value()
            ),
        ),
        webhooks=WebhookActivities(sessions, http),
    )


def build_worker(
    client: Client,
    settings: Settings,
    sessions: SessionFactory,
    http: httpx.AsyncClient,
    email: EmailSender,
    *,
    task_queue: str | None = None,
) -> Worker:
    activities = build_activities(settings, sessions, http, email)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(settings.workflow_sandbox),
        activities=activities.all(),
        # after the client's own (tracing), which the worker takes from the client
        interceptors=[LogContextInterceptor()],
        max_concurrent_activities=100,
        max_concurrent_workflow_tasks=100,
        # on SIGTERM, let in-flight provider calls finish before cancelling them
        graceful_shutdown_timeout=timedelta(seconds=15),
        # a workflow task waits this long for this worker (which holds the workflow in its
        # cache) before any worker may take it: after a kill -9, 3 s instead of 10 s
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
    )
