"""``invoiceflow billing``: clear errors, a run watched to the end, and the monthly schedule
on a real Temporal dev server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleRange,
)
from temporalio.service import RPCError
from typer.testing import CliRunner, Result

from cli.main import app
from core.settings import get_settings
from domain.billing import previous_period
from schemas.billing import BillingRunResult
from schemas.ids import BILLING_SCHEDULE_ID, billing_run_workflow_id
from tests.support.billing import contract_with_entries, period_invoices, unique_period
from tests.support.servers import bound_socket
from tests.support.stack import Stack, running_stack


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["billing", *args])


async def invoke_in_thread(*args: str) -> Result:
    """The CLI runs its own event loop; the test's loop keeps serving the worker meanwhile."""
    return await asyncio.to_thread(invoke, *args)


def point_cli_at(env: pytest.MonkeyPatch, temporal: Client, stack: Stack) -> None:
    env.setenv("INVOICEFLOW_TEMPORAL_ADDRESS", temporal.service_client.config.target_host)
    env.setenv("INVOICEFLOW_TEMPORAL_NAMESPACE", temporal.namespace)
    env.setenv("INVOICEFLOW_TASK_QUEUE", stack.settings.task_queue)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "not a calendar month"),
        ("november", "not a calendar month"),
        ("2098-01", "has not begun"),
        ("9999-12", "2000-2099"),
    ],
)
def test_billing_run_refuses_a_bad_period_before_calling_temporal(
    env: pytest.MonkeyPatch, period: str, message: str
) -> None:
    env.setenv("INVOICEFLOW_TEMPORAL_ADDRESS", "127.0.0.1:1")
    result = invoke("run", period)
    assert result.exit_code == 2
    assert message in result.output


def test_billing_commands_say_so_when_temporal_is_unreachable(env: pytest.MonkeyPatch) -> None:
    with bound_socket() as unused:  # a port nobody listens on
        env.setenv("INVOICEFLOW_TEMPORAL_ADDRESS", f"127.0.0.1:{unused.getsockname()[1]}")
        for args in (["run", "2026-10"], ["schedule"]):
            result = invoke(*args)
            assert result.exit_code == 1, result.output
            assert "Cannot reach Temporal at 127.0.0.1:" in result.output


def test_the_schedule_day_must_exist_in_every_month(env: pytest.MonkeyPatch) -> None:
    result = invoke("schedule", "--day", "31")
    assert result.exit_code == 2
    assert "--day" in result.output


async def test_billing_run_starts_the_period_and_shows_progress_until_done(
    temporal: Client, sqlite_url: str, env: pytest.MonkeyPatch
) -> None:
    period = unique_period()
    async with running_stack(temporal, sqlite_url) as stack:
        point_cli_at(env, temporal, stack)
        for _ in range(3):
            await contract_with_entries(stack.sessions, period)
        result = await invoke_in_thread("run", period, "--page-size", "2")
        assert result.exit_code == 0, result.output
        assert f"Started billing-run-{period}" in result.output
        assert "Done: 3 invoices started, 0 already existed, 2 pages." in result.output

        again = await invoke_in_thread("run", period, "--no-wait")
        assert again.exit_code == 0, again.output
        assert "already exists" in again.output
        assert "--rerun" in again.output  # says how to run the period again

        # work for a fourth contract arrives late: a rerun bills it, and only it
        await contract_with_entries(stack.sessions, period)
        rerun = await invoke_in_thread("run", period, "--rerun")
        assert rerun.exit_code == 0, rerun.output
        assert f"Started a rerun of billing-run-{period}" in rerun.output
        assert "Done: 1 invoices started" in rerun.output

        async def all_four() -> bool:  # the child writes its invoice after the run is done
            return len(await period_invoices(stack.sessions, period)) == 4

        await stack.wait_for(all_four, timeout=30)


async def test_a_rerun_while_the_run_is_running_exits_1_and_says_why(
    temporal: Client, sqlite_url: str, env: pytest.MonkeyPatch
) -> None:
    period = unique_period()
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:  # stays RUNNING
        point_cli_at(env, temporal, stack)
        started = await invoke_in_thread("run", period, "--no-wait")
        assert started.exit_code == 0, started.output
        try:
            rerun = await invoke_in_thread("run", period, "--rerun", "--no-wait")
            assert rerun.exit_code == 1, rerun.output
            assert f"billing-run-{period} is still running" in rerun.output
        finally:
            await temporal.get_workflow_handle(billing_run_workflow_id(period)).terminate("over")


async def test_schedule_creates_then_updates_the_monthly_run_which_bills_last_month(
    temporal: Client, sqlite_url: str, env: pytest.MonkeyPatch
) -> None:
    last_month = previous_period(datetime.now(UTC))
    async with running_stack(temporal, sqlite_url) as stack:
        point_cli_at(env, temporal, stack)
        for _ in range(3):
            await contract_with_entries(stack.sessions, last_month)
        handle = temporal.get_schedule_handle(BILLING_SCHEDULE_ID)
        try:
            created = await invoke_in_thread("schedule", "--day", "1", "--hour", "2")
            assert created.exit_code == 0, created.output
            assert f"Created schedule {BILLING_SCHEDULE_ID}" in created.output
            described = await handle.describe()
            calendar = described.schedule.spec.calendars[0]
            assert list(calendar.day_of_month) == [ScheduleRange(1)]
            assert list(calendar.hour) == [ScheduleRange(2)]
            action = described.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "BillingRun"
            assert action.task_queue == stack.settings.task_queue
            next_run = described.info.next_action_times[0]
            assert (next_run.day, next_run.hour, next_run.minute) == (1, 2, 0)

            updated = await invoke_in_thread("schedule", "--day", "2", "--hour", "3")
            assert updated.exit_code == 0, updated.output
            assert "Updated schedule" in updated.output
            calendar = (await handle.describe()).schedule.spec.calendars[0]
            assert list(calendar.day_of_month) == [ScheduleRange(2)]
            assert list(calendar.hour) == [ScheduleRange(3)]

            # what the schedule does each month, now: bill last month as its own run
            await handle.trigger()
            run = temporal.get_workflow_handle(
                billing_run_workflow_id(last_month), result_type=BillingRunResult
            )

            async def finished() -> BillingRunResult | None:
                try:
                    return await run.result()
                except RPCError:  # not started yet
                    return None

            result = await stack.wait_for(finished)
            assert result.period == last_month and result.contracts_started == 3
            recent = (await handle.describe()).info.recent_actions
            assert len(recent) == 1
            assert isinstance(recent[0].action, ScheduleActionExecutionStartWorkflow)
            scheduled = temporal.get_workflow_handle(
                recent[0].action.workflow_id, result_type=BillingRunResult
            )
            assert (await scheduled.result()).delegated_to == billing_run_workflow_id(last_month)

            async def invoiced() -> bool:
                return len(await period_invoices(stack.sessions, last_month)) == 3

            await stack.wait_for(invoiced)
        finally:
            await handle.delete()
