"""The operator CLI: migrations and API keys, with clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from store import api_keys
from store.db import create_engine, session_factory


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("INVOICEFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_db_upgrade_then_apikey_create_stores_only_a_hash(database: str) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    created = runner.invoke(app, ["apikey", "create", "billing-app"])
    assert created.exit_code == 0, created.output
    plain = created.output.split("API key for billing-app: ")[1].split()[0]
    assert plain.startswith("ifk_")

    async def lookup() -> tuple[str | None, str]:
        engine = create_engine(database)
        async with session_factory(engine)() as session:
            key = await api_keys.find(session, plain)
        await engine.dispose()
        raw = Path(database.removeprefix("sqlite:///")).read_bytes()
        return (key.name if key else None), ("found" if plain.encode() in raw else "absent")

    name, plain_in_file = asyncio.run(lookup())
    assert name == "billing-app"
    assert plain_in_file == "absent"


def test_apikey_create_needs_a_name(database: str) -> None:
    result = CliRunner().invoke(app, ["apikey", "create", "  "])
    assert result.exit_code == 2
    assert "needs a name" in result.output
