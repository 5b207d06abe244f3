"""Session-wide real servers: a Temporal dev server, the time-skipping test server, and
database factories for SQLite and PostgreSQL (a PostgreSQL of its own when the machine
has none)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import data_converter
from schemas import search_attributes as sa
from tests.support.codec import TEST_CODEC_KEYS
from tests.support.databases import PostgresFactory, SqliteFactory, postgres_server

# Quiet hours (08:00-20:00 on working days by default) would hold an invoice the suite
# creates at night or at a weekend; they are off in every test's settings, and in the
# worker processes tests start, unless a test turns them on (its settings or customer).
os.environ.setdefault("INVOICEFLOW_QUIET_HOURS", '{"enabled": false}')
# Every payload encrypted, as in production: the suite's own key in every test's settings
# and every process a test starts (tests/support/codec.py).
os.environ.setdefault("INVOICEFLOW_CODEC_KEYS", TEST_CODEC_KEYS)

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEMPORAL_TEST_SERVER = BIN / "temporal-test-server"


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=sa.ALL,
        data_converter=data_converter(Settings()),
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def temporal(dev_server: WorkflowEnvironment) -> Client:
    return dev_server.client


@pytest.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: workflows a finished test leaves behind
    (waiting on a task queue nobody polls any more) would otherwise stop time skipping."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEMPORAL_TEST_SERVER),
        data_converter=data_converter(Settings()),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in sa.ALL},
        )
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteFactory]:
    factory = SqliteFactory(tmp_path_factory.mktemp("sqlite"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def postgresql_admin_url() -> Iterator[str]:
    """INVOICEFLOW_TEST_PG_URL, else the server on 127.0.0.1:5432, else an embedded one
    started for the session and stopped at its end (tests/support/databases.py)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgresql_factory(postgresql_admin_url: str) -> Iterator[PostgresFactory]:
    factory = PostgresFactory(postgresql_admin_url)
    yield factory
    factory.close()


@pytest.fixture
def sqlite_url(sqlite_factory: SqliteFactory) -> str:
    return sqlite_factory.new()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database; tests using it run once on each engine."""
    factory = request.getfixturevalue(f"{request.param}_factory")
    return factory.new()
