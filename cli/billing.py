"""``invoiceflow billing``: start a period's billing run and watch it, or schedule it monthly.

Both talk to Temporal directly (``INVOICEFLOW_TEMPORAL_ADDRESS``); the worker must be
running on ``INVOICEFLOW_TASK_QUEUE`` for a run to make progress.
"""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)

from cli.failures import temporal_errors
from core.billing_runs import billing_run_state, start_billing_run
from core.settings import Settings, get_settings
from core.temporal import connect
from domain.billing import parse_period, period_starts_after
from domain.errors import InvalidPeriod
from schemas.billing import (
    BILLING_RUN_WORKFLOW,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    BillingRunInput,
)
from schemas.ids import BILLING_SCHEDULE_ID, billing_run_workflow_id

app = typer.Typer(
    no_args_is_help=True, help="Billing runs: a period's invoices for every contract."
)
console = Console()

POLL_INTERVAL_S = 0.5


async def _connect(settings: Settings) -> Client:
    try:
        return await connect(settings)
    except RuntimeError as err:  # the SDK's "Failed client connect: ..."
        console.print(
            f"[red]Cannot reach Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}):[/] {err}\n"
            "Start it with `make run`, or set INVOICEFLOW_TEMPORAL_ADDRESS."
        )
        raise typer.Exit(1) from err


def _check_period(period: str) -> str:
    try:
        parse_period(period)
    except InvalidPeriod as bad:
        raise typer.BadParameter(bad.detail, param_hint="PERIOD") from bad
    if period_starts_after(period, datetime.now(UTC).date()):
        raise typer.BadParameter(
            f"period {period} has not begun; there is nothing to bill yet", param_hint="PERIOD"
        )
    return period


@app.command("run")
def run(
    period: str = typer.Argument(..., help="the month to bill, YYYY-MM (e.g. 2026-11)"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="show progress until the run is done"),
    page_size: int = typer.Option(
        DEFAULT_PAGE_SIZE, min=1, max=MAX_PAGE_SIZE, help="contracts per page"
    ),
    max_in_flight: int = typer.Option(
        DEFAULT_MAX_IN_FLIGHT, min=1, max=500, help="invoice starts outstanding at once"
    ),
    rerun: bool = typer.Option(
        False,
        "--rerun",
        help="run a completed period again: bill entries that came late, skip every"
        " contract already invoiced",
    ),
) -> None:
    """Start the billing run for PERIOD (or attach to it if it exists) and show its progress.

    Ctrl-C stops watching; the run itself carries on in Temporal.
    """
    _check_period(period)
    settings = get_settings()
    with temporal_errors(settings.temporal_address):
        code = asyncio.run(_run(settings, period, wait, page_size, max_in_flight, rerun))
    raise typer.Exit(code)


async def _run(
    settings: Settings,
    period: str,
    wait: bool,
    page_size: int,
    max_in_flight: int,
    rerun: bool = False,
) -> int:
    client = await _connect(settings)
    workflow_id = billing_run_workflow_id(period)
    started = await start_billing_run(
        client,
        period=period,
        task_queue=settings.task_queue,
        requested_by=f"cli:{getpass.getuser()}",
        page_size=page_size,
        max_in_flight=max_in_flight,
        rerun=rerun,
    )
    if rerun and not started:
        console.print(
            f"[bold]{workflow_id}[/] is still running: rerun the period once it has completed."
        )
        return 1
    if started:
        again = "Started a rerun of" if rerun else "Started"
        console.print(f"{again} [bold]{workflow_id}[/] on task queue {settings.task_queue}.")
    else:
        console.print(
            f"[bold]{workflow_id}[/] already exists: showing its state"
            " (--rerun runs a completed period again)."
        )
    if not wait:
        return 0
    return await _watch(client, period)


async def _watch(client: Client, period: str) -> int:
    columns = (
        TextColumn("[bold]Billing {task.fields[period]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("contracts · page {task.fields[page]} · {task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("billing", total=None, period=period, page=0, note="starting")
        while True:
            status, progress = await billing_run_state(client, period)
            if progress is not None:
                done = progress.contracts_started + progress.already_existing
                bar.update(
                    task,
                    completed=done,
                    total=max(progress.contracts_total or 0, done) or None,
                    page=progress.pages,
                    note=f"{progress.already_existing} already invoiced",
                )
            elif status == "RUNNING":
                bar.update(task, note="waiting for a worker")
            if status != "RUNNING":
                break
            await asyncio.sleep(POLL_INTERVAL_S)
    if status == "COMPLETED" and progress is not None:
        console.print(
            f"Done: {progress.contracts_started} invoices started, "
            f"{progress.already_existing} already existed, {progress.pages} pages."
        )
        return 0
    console.print(f"[red]The run ended {status or 'without a trace'}[/]; see the Temporal UI.")
    return 1


@app.command("schedule")
def schedule(
    day: int = typer.Option(1, min=1, max=28, help="day of the month, 1-28 (every month has it)"),
    hour: int = typer.Option(2, min=0, max=23, help="hour, UTC"),
    minute: int = typer.Option(0, min=0, max=59, help="minute"),
) -> None:
    """Create or update the Temporal Schedule that bills the previous month, every month."""
    settings = get_settings()
    with temporal_errors(settings.temporal_address):
        code = asyncio.run(_schedule(settings, day, hour, minute))
    raise typer.Exit(code)


def monthly_schedule(settings: Settings, day: int, hour: int, minute: int) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            BILLING_RUN_WORKFLOW,
            # no period: the run bills the month before its start, as billing-run-{period}
            BillingRunInput(requested_by=f"schedule:{BILLING_SCHEDULE_ID}"),
            id=BILLING_SCHEDULE_ID,
            task_queue=settings.task_queue,
            static_summary="Monthly billing run (bills the previous month)",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_month=[ScheduleRange(day)],
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                    comment="bill the previous month",
                )
            ],
            time_zone_name="UTC",  # the run computes "previous month" in UTC as well
        ),
        # a run still going a month later is skipped, not doubled; a run missed while
        # Temporal was down is still taken within a week
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=7)),
        state=ScheduleState(note="created by `invoiceflow billing schedule`"),
    )


async def _schedule(settings: Settings, day: int, hour: int, minute: int) -> int:
    client = await _connect(settings)
    wanted = monthly_schedule(settings, day, hour, minute)
    try:
        handle = await client.create_schedule(BILLING_SCHEDULE_ID, wanted)
        verb = "Created"
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(BILLING_SCHEDULE_ID)
        await handle.update(lambda _: ScheduleUpdate(schedule=wanted))
        verb = "Updated"
    described = await handle.describe()
    upcoming = ", ".join(f"{t:%Y-%m-%d %H:%M} UTC" for t in described.info.next_action_times[:2])
    console.print(
        f"{verb} schedule [bold]{BILLING_SCHEDULE_ID}[/]: day {day} of each month at "
        f"{hour:02d}:{minute:02d} UTC, task queue {settings.task_queue}. Next: {upcoming}."
    )
    return 0
